#include "must/eval/confusion_matrix.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "must/core/check.h"

namespace must::eval {

ConfusionMatrix::ConfusionMatrix(int64_t num_classes, int64_t ignore_value)
    : classes_(num_classes),
      ignore_(ignore_value),
      counts_(size_t(num_classes * num_classes), 0),
      missed_(size_t(std::max<int64_t>(num_classes, 0)), 0) {
  MUST_CHECK(num_classes >= 1, "a confusion matrix needs at least one class, got ", num_classes);
}

void ConfusionMatrix::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  std::fill(missed_.begin(), missed_.end(), 0);
}

void ConfusionMatrix::add(const torch::Tensor& truth, const torch::Tensor& prediction) {
  MUST_CHECK(truth.sizes() == prediction.sizes(), "ground truth ", truth.sizes(), " and prediction ",
             prediction.sizes(), " differ in shape");
  const torch::Tensor t = truth.to(torch::kCPU, torch::kLong).contiguous();
  const torch::Tensor p = prediction.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* tv = t.data_ptr<int64_t>();
  const int64_t* pv = p.data_ptr<int64_t>();
  const int64_t n = t.numel(), c = classes_;
  int64_t* counts = counts_.data();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t g = tv[i];
    if (g == ignore_) continue;
    const int64_t q = pv[i];
    if (q == kNoClass && uint64_t(g) < uint64_t(c)) {
      ++missed_[size_t(g)];
      continue;
    }
    if (uint64_t(g) >= uint64_t(c) || uint64_t(q) >= uint64_t(c)) {
      MUST_THROW(Error, uint64_t(g) >= uint64_t(c) ? "ground-truth" : "predicted", " class ",
                 uint64_t(g) >= uint64_t(c) ? g : q, " outside [0, ", c, ") (ignore value ", ignore_, ")");
    }
    ++counts[g * c + q];
  }
}

std::vector<double> ConfusionMatrix::iou() const {
  std::vector<double> out(static_cast<size_t>(classes_));
  for (int64_t k = 0; k < classes_; ++k) {
    int64_t row = 0, column = 0;
    for (int64_t j = 0; j < classes_; ++j) {
      row += counts_[size_t(k * classes_ + j)];
      column += counts_[size_t(j * classes_ + k)];
    }
    const int64_t tp = counts_[size_t(k * classes_ + k)];
    const int64_t denominator = row + missed_[size_t(k)] + column - tp;
    out[size_t(k)] = denominator > 0 ? double(tp) / double(denominator) : std::nan("");
  }
  return out;
}

double ConfusionMatrix::mean_iou() const {
  double sum = 0;
  int64_t count = 0;
  for (double v : iou()) {
    if (!std::isnan(v)) sum += v, ++count;
  }
  return count ? sum / double(count) : std::nan("");
}

int64_t ConfusionMatrix::scored_pixels() const {
  int64_t total = 0;
  for (int64_t v : counts_) total += v;
  for (int64_t v : missed_) total += v;
  return total;
}

double ConfusionMatrix::pixel_accuracy() const {
  int64_t correct = 0;
  for (int64_t k = 0; k < classes_; ++k) correct += counts_[size_t(k * classes_ + k)];
  const int64_t total = scored_pixels();
  return total ? double(correct) / double(total) : std::nan("");
}

}  // namespace must::eval
