// Assigns each prediction (anchor or proposal) a ground-truth box, as torchvision's det_utils.Matcher:
// the best IoU >= high gives that box's index; below low gives kBelowLow (-1, background); in between,
// kBetween (-2, ignored). allow_low_quality_matches also gives every ground truth the predictions that
// overlap it most (ties included), whatever their IoU.
//
// Ignore regions (crowd / difficult / ignore boxes) are matched apart: they never make a prediction positive,
// and a prediction that is not positive but overlaps one with IoU >= low becomes kBetween, so it is neither a
// positive nor a negative.
#pragma once

#include <torch/types.h>

namespace must::ops {

class Matcher {
 public:
  static constexpr int64_t kBelowLow = -1;
  static constexpr int64_t kBetween = -2;

  Matcher(double high, double low, bool allow_low_quality_matches)
      : high_(high), low_(low), allow_low_quality_(allow_low_quality_matches) {}
  // quality [M ground truths, N predictions] (IoU); ignore [M] bool, or undefined for none. Returns [N] int64.
  torch::Tensor operator()(const torch::Tensor& quality, const torch::Tensor& ignore = {}) const;

 private:
  double high_, low_;
  bool allow_low_quality_;
};

}  // namespace must::ops
