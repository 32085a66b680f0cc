// Monocular depth errors (Eigen et al. 2014; the definitions of BTS's eval_with_pngs.py compute_errors), with d
// the prediction and g the ground truth over valid pixels:
//   AbsRel = mean |d - g| / g        SqRel = mean (d - g)^2 / g        RMSE = sqrt mean (d - g)^2
//   RMSE_log = sqrt mean (ln d - ln g)^2                                log10 = mean |log10 d - log10 g|
//   delta1/2/3 = % of pixels with max(d / g, g / d) < 1.25, 1.25^2, 1.25^3
// Valid pixels (BTS): min_depth < g < max_depth (non-finite g is invalid), inside the crop. Predictions are
// clamped into [min_depth, max_depth] (+inf -> max, NaN -> min) after the optional per-image median scaling
// (d *= median(g) / median(d) over the valid pixels, numpy.median's middle for even counts; Monodepth's
// protocol for scale-ambiguous models). Averaging: per image, then the mean over images with a valid pixel
// (BTS, the NYU convention), or pooled over every valid pixel of the split.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace must::eval {

enum class DepthCrop {
  kNone,
  kEigen,  // NYU: rows 45..470, columns 41..600 of the 480 x 640 ground truth (BTS's eigen_crop), scaled as
           // integer fractions of the size for other sizes
};

struct DepthMetricOptions {
  double min_depth = 1e-3;      // metres; ground truth kept above it, predictions clamped to it
  double max_depth = 10.0;      // metres; ground truth kept below it, predictions clamped to it
  DepthCrop crop = DepthCrop::kNone;
  bool median_scaling = false;  // per image, before clamping
  bool per_image = true;        // false: pool the pixels of the whole split
};

class DepthMetrics {
 public:
  explicit DepthMetrics(DepthMetricOptions options = {});
  // truth, prediction: float maps [H, W] or [1, H, W] of the same size, metres.
  void add(const torch::Tensor& truth, const torch::Tensor& prediction);
  void reset();
  // AbsRel, SqRel, RMSE, RMSE_log, log10, delta1, delta2, delta3 (percent), plus "valid_images" (images with a
  // valid pixel) and "pixels" (valid pixels). Errors are NaN when nothing was valid.
  std::map<std::string, double> values() const;

 private:
  struct Sums {  // of the per-pixel terms, or of per-image means
    double abs_rel = 0, sq_rel = 0, squared = 0, squared_log = 0, log10 = 0, delta[3] = {0, 0, 0};
    double count = 0;
  };
  DepthMetricOptions options_;
  Sums total_;
  int64_t images_ = 0, pixels_ = 0;
};

}  // namespace must::eval
