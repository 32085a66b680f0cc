// Feature Pyramid Network (Lin et al. 2017) compatible with torchvision.ops.FeaturePyramidNetwork and its
// LastLevelMaxPool: parameter names inner_blocks.{i}.0.{weight,bias}, layer_blocks.{i}.0.{weight,bias}.
// Input res2..res5 -> output p2..p5 (same strides) plus p6 = max_pool(p5, kernel 1, stride 2).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "must/models/fused_conv.h"
#include "must/structures/feature_map.h"

namespace must::models {

struct FpnOptions {
  std::vector<structures::FeatureSpec> in_features;  // bottom-up inputs, highest resolution first
  int64_t out_channels = 256;                          // channels of every pyramid level
  bool top_max_pool = true;                            // add p6 by max pooling p5, as torchvision's detectors
};

class FpnImpl : public torch::nn::Module {
 public:
  explicit FpnImpl(FpnOptions options);
  structures::FeatureMap forward(const structures::FeatureMap& bottom_up);
  std::vector<structures::FeatureSpec> output_shape() const { return shapes_; }
  // See ResNetImpl::fuse_for_inference (here: convolutions on oneDNN, the top-down sums stay dense).
  void fuse_for_inference();
  void train(bool on = true) override;

 private:
  // inner (1x1) or layer (3x3) block i: its fused copy when fused for inference, else the module.
  torch::Tensor inner(size_t i, const torch::Tensor& x);
  torch::Tensor layer(size_t i, const torch::Tensor& x);
  FpnOptions options_;
  std::vector<FusedConv2d> fused_inner_, fused_layer_;
  std::vector<structures::FeatureSpec> shapes_;
  torch::nn::ModuleList inner_blocks, layer_blocks;
};
TORCH_MODULE(Fpn);

}  // namespace must::models
