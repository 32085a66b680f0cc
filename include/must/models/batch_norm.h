// Batch norm with torchvision's parameter names (weight, bias, running_mean, running_var,
// num_batches_tracked) and a frozen mode equivalent to torchvision.ops.FrozenBatchNorm2d: statistics and affine
// parameters fixed, running statistics used in training too (detection fine-tuning with small batches).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace must::models {

struct BatchNorm2dOptions {
  explicit BatchNorm2dOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(double, eps) = 1e-5;      // torchvision's default, also for FrozenBatchNorm2d
  TORCH_ARG(double, momentum) = 0.1;  // running-statistics update rate
  TORCH_ARG(bool, frozen) = false;    // see freeze()
};

class BatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit BatchNorm2dImpl(BatchNorm2dOptions options);
  torch::Tensor forward(const torch::Tensor& input);
  // Fixes statistics and affine parameters: no gradient, running statistics in training mode too.
  void freeze();
  bool frozen() const { return options_.frozen(); }
  const BatchNorm2dOptions& options() const { return options_; }

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  BatchNorm2dOptions options_;
};
TORCH_MODULE(BatchNorm2d);

}  // namespace must::models
