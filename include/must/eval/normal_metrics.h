// Surface normal angle errors (astmt / Multi-Task-Learning-PyTorch's eval_normals): a pixel is valid where the
// ground truth is not the zero vector; prediction and ground truth are L2-normalised (a zero-length prediction
// stays zero and scores 90 degrees); the error is acos(clip(<n_pred, n_gt>, -1, 1)) in degrees, pooled over every
// valid pixel of the split: mean, median, RMSE, and the % of pixels below 11.25, 22.5 and 30 degrees.
// The median comes from a histogram of 1e-4-degree bins (memory stays fixed however large the split), so it is
// exact to 5e-5 degrees; numpy.median's mean of the two middle values for an even count is kept.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace must::eval {

class NormalMetrics {
 public:
  NormalMetrics();
  // truth, prediction: float [3, H, W] of the same size.
  void add(const torch::Tensor& truth, const torch::Tensor& prediction);
  void reset();
  // mean_angle, median_angle, rmse_angle (degrees), within_11.25, within_22.5, within_30 (percent), "pixels".
  std::map<std::string, double> values() const;

 private:
  double sum_ = 0, sum_squares_ = 0;
  int64_t pixels_ = 0, within_[3] = {0, 0, 0};
  std::vector<int64_t> histogram_;
};

}  // namespace must::eval
