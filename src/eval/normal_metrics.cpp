#include "must/eval/normal_metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "must/core/check.h"

namespace must::eval {
namespace {

constexpr double kBinDegrees = 1e-4;
constexpr int64_t kBins = int64_t(180.0 / kBinDegrees) + 1;
constexpr double kRadiansToDegrees = 180.0 / 3.14159265358979323846;

}  // namespace

NormalMetrics::NormalMetrics() : histogram_(size_t(kBins), 0) {}

void NormalMetrics::reset() {
  sum_ = sum_squares_ = 0;
  pixels_ = 0;
  std::fill(std::begin(within_), std::end(within_), 0);
  std::fill(histogram_.begin(), histogram_.end(), 0);
}

void NormalMetrics::add(const torch::Tensor& truth, const torch::Tensor& prediction) {
  MUST_CHECK(truth.dim() == 3 && truth.size(0) == 3 && truth.sizes() == prediction.sizes(), "normal ground truth ",
             truth.sizes(), " and prediction ", prediction.sizes(), " should be [3, H, W] maps of one size");
  const torch::Tensor g = truth.to(torch::kCPU, torch::kFloat).contiguous();
  const torch::Tensor p = prediction.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t plane = g.size(1) * g.size(2);
  const float* gv = g.data_ptr<float>();
  const float* pv = p.data_ptr<float>();
  for (int64_t i = 0; i < plane; ++i) {
    const double gx = gv[i], gy = gv[plane + i], gz = gv[2 * plane + i];
    const double g_norm = std::sqrt(gx * gx + gy * gy + gz * gz);
    if (g_norm == 0) continue;
    const double px = pv[i], py = pv[plane + i], pz = pv[2 * plane + i];
    const double p_norm = std::sqrt(px * px + py * py + pz * pz) + 1e-12;
    const double cosine = (gx * px + gy * py + gz * pz) / ((g_norm + 1e-12) * p_norm);
    const double error = std::acos(std::clamp(cosine, -1.0, 1.0)) * kRadiansToDegrees;
    sum_ += error;
    sum_squares_ += error * error;
    within_[0] += error < 11.25;
    within_[1] += error < 22.5;
    within_[2] += error < 30.0;
    ++histogram_[size_t(std::min<int64_t>(int64_t(error / kBinDegrees), kBins - 1))];
    ++pixels_;
  }
}

std::map<std::string, double> NormalMetrics::values() const {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double n = double(pixels_);
  // The k-th smallest error (0-based), as the centre of its bin.
  auto kth = [&](int64_t k) {
    int64_t seen = 0;
    for (int64_t b = 0; b < kBins; ++b) {
      seen += histogram_[size_t(b)];
      if (seen > k) return (double(b) + 0.5) * kBinDegrees;
    }
    return 180.0;
  };
  const double median = pixels_ == 0 ? nan : pixels_ % 2 ? kth(pixels_ / 2) : (kth(pixels_ / 2 - 1) + kth(pixels_ / 2)) / 2;
  auto percent = [&](int64_t count) { return pixels_ ? 100.0 * double(count) / n : nan; };
  return {{"mean_angle", pixels_ ? sum_ / n : nan},
          {"median_angle", median},
          {"rmse_angle", pixels_ ? std::sqrt(sum_squares_ / n) : nan},
          {"within_11.25", percent(within_[0])},
          {"within_22.5", percent(within_[1])},
          {"within_30", percent(within_[2])},
          {"pixels", n}};
}

}  // namespace must::eval
