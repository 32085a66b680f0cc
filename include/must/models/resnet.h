// ResNet-18/34/50/101/152 (He et al. 2016; the "v1.5" variant of torchvision: stride on the 3x3 conv) with
// torchvision's parameter names and numerics, so torchvision checkpoints load as they are:
//   conv1, bn1, layer1..layer4 (blocks: conv1, bn1, conv2, bn2[, conv3, bn3][, downsample.0, downsample.1]), fc
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <vector>

#include "must/models/batch_norm.h"
#include "must/models/fused_conv.h"
#include "must/structures/feature_map.h"

namespace must::models {

struct ResNetOptions {
  ResNetOptions() = default;
  explicit ResNetOptions(int depth) : depth_(depth) {}
  TORCH_ARG(int, depth) = 50;                  // 18, 34, 50, 101 or 152
  TORCH_ARG(double, width_multiplier) = 1.0;   // stage widths 64, 128, 256, 512 times this (small CPU models)
  TORCH_ARG(int64_t, num_classes) = 0;         // > 0 adds torchvision's `fc` classifier on pooled res5
  TORCH_ARG(bool, frozen_batch_norm) = false;  // every BatchNorm frozen (FrozenBatchNorm2d)
  TORCH_ARG(int, freeze_at) = 0;               // frozen stages: 0 none, 1 stem, 2 stem + layer1, ... 5 all
  TORCH_ARG(bool, channels_last) = false;      // NHWC weights and activations (faster convolutions on some CPUs)
  TORCH_ARG(bool, small_input_stem) = false;   // 3x3 stride-1 conv1 and no max-pool, for 28-32 px images
                                               // (CIFAR ResNets): res2..res5 at strides 1, 2, 4, 8
};

// One residual block: basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 with expansion 4).
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in_channels, int64_t width, int64_t stride, bool bottleneck, bool frozen_batch_norm);
  torch::Tensor forward(torch::Tensor x);
  static int64_t expansion(bool bottleneck) { return bottleneck ? 4 : 1; }
  // Eval-mode forward on oneDNN tensors with batch norm folded in (fused_conv.h); train() undoes it.
  void fuse_for_inference();
  void train(bool on = true) override;

 private:
  struct Fused {
    FusedConv2d conv1, conv2, conv3, downsample;
  };
  torch::Tensor forward_fused(const torch::Tensor& x) const;
  std::optional<Fused> fused_;
  bool bottleneck_;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(ResidualBlock);

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(ResNetOptions options);
  // res2..res5 (outputs of layer1..layer4), strides 4, 8, 16, 32 (1, 2, 4, 8 with the small-input stem).
  structures::FeatureMap forward_features(torch::Tensor x);
  // Classifier logits; needs num_classes > 0.
  torch::Tensor forward(torch::Tensor x);
  std::vector<structures::FeatureSpec> output_shape() const;
  // The same, without building the network.
  static std::vector<structures::FeatureSpec> output_shape_of(const ResNetOptions& options);
  const ResNetOptions& options() const { return options_; }
  // For eval-mode inference on the CPU: folds batch norm into the convolutions and runs them on oneDNN's
  // layout (1.1-1.2x faster here). Weights are copied, so train() (or loading weights) must come before it;
  // train() drops the fused copies. No-op without oneDNN.
  void fuse_for_inference();
  void train(bool on = true) override;

 private:
  ResNetOptions options_;
  std::optional<FusedConv2d> fused_stem_;
  std::vector<structures::FeatureSpec> shapes_;
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  std::vector<torch::nn::Sequential> stages_;  // layer1..layer4
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet);

// Turns every 4-D parameter and buffer of `module` into channels-last memory format.
void to_channels_last(torch::nn::Module& module);

}  // namespace must::models
