// Inference-time fusion: a convolution with its batch norm folded in, run by oneDNN on its blocked tensor
// layout. Keeping activations in that layout from layer to layer saves the layout conversions LibTorch's
// dense convolutions make on every call (the same rewrite as torch.utils.mkldnn.to_mkldnn plus
// torch.fx.experimental.optimization.fuse in Python). Used through the models' fuse_for_inference().
#pragma once

#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include <utility>
#include <vector>

#include "must/models/batch_norm.h"

namespace must::models {

// Whether this LibTorch has oneDNN (MKL-DNN) on the CPU; without it fuse_for_inference() does nothing.
bool fused_inference_available();

class FusedConv2d {
 public:
  FusedConv2d() = default;
  // Folds `norm` (may be null) into `conv`: w' = w g / sqrt(v + eps), b' = (b - m) g / sqrt(v + eps) + beta.
  FusedConv2d(const torch::nn::Conv2d& conv, const BatchNorm2d& norm);
  // A oneDNN (is_mkldnn) tensor in, one out. Throws must::Error when the convolution's or norm's tensors were
  // written or replaced since the fusion (the copy would be stale).
  torch::Tensor operator()(const torch::Tensor& x) const;
  // A dense tensor in, one out (converting both ways: for a lone convolution among dense ops).
  torch::Tensor on_dense(const torch::Tensor& x) const;

 private:
  torch::Tensor weight_, bias_;
  std::vector<torch::Tensor> sources_;                    // what the fused copy was made from
  std::vector<std::pair<int64_t, const void*>> versions_;  // their version counters and storage then
  std::vector<int64_t> stride_, padding_, dilation_;
  int64_t groups_ = 1;
};

}  // namespace must::models
