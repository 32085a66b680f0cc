// Balanced positive / negative sampling of anchors or proposals for the detector's losses, as torchvision's
// det_utils.BalancedPositiveNegativeSampler: per image, at most batch_size_per_image * positive_fraction
// positives (label >= 1), the rest of the batch negatives (label 0); labels < 0 are never sampled.
// Random (torch.randperm on the global generator, as torchvision) or, for reproducible tests and debugging,
// the first ones in index order (what torchvision does with randperm replaced by arange).
#pragma once

#include <torch/types.h>

#include <utility>

namespace must::ops {

class BalancedSampler {
 public:
  BalancedSampler(int64_t batch_size_per_image, double positive_fraction, bool random = true);
  // labels [N] (int or float) of one image -> {positive mask [N], negative mask [N]} (bool).
  std::pair<torch::Tensor, torch::Tensor> operator()(const torch::Tensor& labels) const;
  void set_random(bool random) { random_ = random; }

 private:
  int64_t batch_size_per_image_;
  double positive_fraction_;
  bool random_;
};

}  // namespace must::ops
