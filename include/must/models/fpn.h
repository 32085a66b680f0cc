// Feature Pyramid Network (Lin et al. 2017) compatible with torchvision.ops.FeaturePyramidNetwork and its
// LastLevelMaxPool: parameter names inner_blocks.{i}.0.{weight,bias}, layer_blocks.{i}.0.{weight,bias}.
// Input res2..res5 -> output p2..p5 (same strides) plus p6 = max_pool(p5, kernel 1, stride 2).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

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

 private:
  FpnOptions options_;
  std::vector<structures::FeatureSpec> shapes_;
  torch::nn::ModuleList inner_blocks, layer_blocks;
};
TORCH_MODULE(Fpn);

}  // namespace must::models
