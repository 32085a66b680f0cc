#include "must/eval/depth_metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "must/core/check.h"

namespace must::eval {
namespace {

// numpy.median of `values` (the mean of the two middle values for an even count). Reorders them.
double median(std::vector<double>& values) {
  const size_t n = values.size(), half = n / 2;
  std::nth_element(values.begin(), values.begin() + long(half), values.end());
  const double upper = values[half];
  if (n % 2) return upper;
  return (*std::max_element(values.begin(), values.begin() + long(half)) + upper) / 2;
}

}  // namespace

DepthMetrics::DepthMetrics(DepthMetricOptions options) : options_(options) {
  MUST_CHECK(options_.min_depth >= 0 && options_.max_depth > options_.min_depth, "depth caps must satisfy 0 <= min (",
             options_.min_depth, ") < max (", options_.max_depth, ")");
}

void DepthMetrics::reset() {
  total_ = {};
  images_ = pixels_ = 0;
}

void DepthMetrics::add(const torch::Tensor& truth, const torch::Tensor& prediction) {
  auto as_map = [](const torch::Tensor& t) {  // [1, H, W] -> [H, W]
    return (t.dim() == 3 && t.size(0) == 1 ? t.select(0, 0) : t).to(torch::kCPU, torch::kFloat).contiguous();
  };
  const torch::Tensor g = as_map(truth), d = as_map(prediction);
  MUST_CHECK(g.dim() == 2 && g.sizes() == d.sizes(), "depth ground truth ", truth.sizes(), " and prediction ",
             prediction.sizes(), " should be [H, W] (or [1, H, W]) maps of one size");
  const int64_t height = g.size(0), width = g.size(1);
  int64_t top = 0, bottom = height, left = 0, right = width;
  if (options_.crop == DepthCrop::kEigen) {  // BTS: [45:471, 41:601] of 480 x 640
    top = height * 45 / 480, bottom = height * 471 / 480, left = width * 41 / 640, right = width * 601 / 640;
  }
  // The caps in float32, as BTS compares its float32 maps with them (NumPy casts the Python float to the array's
  // type) and clamps predictions to them: a ground truth of exactly 0.001f is not above a 0.001 cap.
  const float min_cap = float(options_.min_depth), max_cap = float(options_.max_depth);
  std::vector<double> truth_values, predicted_values;
  const float* gv = g.data_ptr<float>();
  const float* dv = d.data_ptr<float>();
  for (int64_t y = top; y < bottom; ++y) {
    for (int64_t x = left; x < right; ++x) {
      const float gt = gv[y * width + x];
      if (!(gt > min_cap && gt < max_cap)) continue;  // also drops NaN
      truth_values.push_back(gt);
      predicted_values.push_back(dv[y * width + x]);
    }
  }
  const size_t n = truth_values.size();
  if (n == 0) return;
  double ratio = 1;
  if (options_.median_scaling) {
    std::vector<double> g_copy = truth_values, d_copy = predicted_values;
    ratio = median(g_copy) / median(d_copy);
  }
  Sums image;
  for (size_t i = 0; i < n; ++i) {
    const double gt = truth_values[i];
    double p = predicted_values[i] * ratio;
    if (std::isnan(p)) p = min_cap;
    p = std::clamp(p, double(min_cap), double(max_cap));
    const double diff = p - gt, log_diff = std::log(p) - std::log(gt);
    image.abs_rel += std::abs(diff) / gt;
    image.sq_rel += diff * diff / gt;
    image.squared += diff * diff;
    image.squared_log += log_diff * log_diff;
    image.log10 += std::abs(std::log10(p) - std::log10(gt));
    const double worst = std::max(gt / p, p / gt);
    image.delta[0] += worst < 1.25;
    image.delta[1] += worst < 1.25 * 1.25;
    image.delta[2] += worst < 1.25 * 1.25 * 1.25;
  }
  image.count = double(n);
  ++images_;
  pixels_ += int64_t(n);
  if (!options_.per_image) {
    total_.abs_rel += image.abs_rel, total_.sq_rel += image.sq_rel, total_.squared += image.squared;
    total_.squared_log += image.squared_log, total_.log10 += image.log10;
    for (int k = 0; k < 3; ++k) total_.delta[k] += image.delta[k];
    total_.count += image.count;
    return;
  }
  // Per image: the image's metrics, summed over images. RMSEs are taken within the image (BTS).
  const double c = image.count;
  total_.abs_rel += image.abs_rel / c, total_.sq_rel += image.sq_rel / c;
  total_.squared += std::sqrt(image.squared / c), total_.squared_log += std::sqrt(image.squared_log / c);
  total_.log10 += image.log10 / c;
  for (int k = 0; k < 3; ++k) total_.delta[k] += image.delta[k] / c;
  total_.count += 1;
}

std::map<std::string, double> DepthMetrics::values() const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double c = total_.count;
  auto mean = [&](double sum) { return c > 0 ? sum / c : nan; };
  // Per image, `squared` already holds each image's RMSE; pooled, the root comes last.
  auto rmse = [&](double sum) { return c > 0 ? (options_.per_image ? sum / c : std::sqrt(sum / c)) : nan; };
  return {{"AbsRel", mean(total_.abs_rel)},        {"SqRel", mean(total_.sq_rel)},
          {"RMSE", rmse(total_.squared)},          {"RMSE_log", rmse(total_.squared_log)},
          {"log10", mean(total_.log10)},           {"delta1", 100 * mean(total_.delta[0])},
          {"delta2", 100 * mean(total_.delta[1])}, {"delta3", 100 * mean(total_.delta[2])},
          {"valid_images", double(images_)},       {"pixels", double(pixels_)}};
}

}  // namespace must::eval
