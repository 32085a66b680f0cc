// Batch norm with torchvision's parameter names (weight, bias, running_mean, running_var,
// num_batches_tracked) and a frozen mode equivalent to torchvision.ops.FrozenBatchNorm2d: statistics and affine
// parameters fixed, running statistics used in training too (detection fine-tuning with small batches); and a
// synchronised mode, torch.nn.SyncBatchNorm's: in training, the statistics of the whole batch the ranks of a
// data-parallel run share.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <memory>

namespace must::models {

// Sums a tensor over the ranks of a data-parallel run (the engine implements it on a process group; models stays
// free of distributed). A collective: every rank calls it, in the same order, with tensors of the same shape.
class CrossRankSum {
 public:
  virtual ~CrossRankSum() = default;
  virtual torch::Tensor sum(const torch::Tensor& local) = 0;
};

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
  // forward(input).relu(), as one step where it can be (batch_norm_training).
  torch::Tensor forward_relu(const torch::Tensor& input);
  // Fixes statistics and affine parameters: no gradient, running statistics in training mode too.
  void freeze();
  bool frozen() const { return options_.frozen(); }
  // Synchronised batch norm (null: this rank's batch alone). In training, a layer that is not frozen then takes its
  // mean and variance over every rank's batch, and backward sums the statistics' gradients over the ranks, so
  // that with gradients averaged over R ranks (distributed::GradientReducer) training is one process's on the R batches.
  // Each forward and each backward of the layer is a collective: every rank must run both, every step (the
  // student's TrainModule puts every head in backward when its batch norms are synchronised).
  void synchronize(std::shared_ptr<CrossRankSum> ranks) { ranks_ = std::move(ranks); }
  bool synchronized() const { return ranks_ != nullptr; }
  const BatchNorm2dOptions& options() const { return options_; }

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor normalize(const torch::Tensor& input, bool relu);
  torch::Tensor normalize_over_ranks(const torch::Tensor& input);
  BatchNorm2dOptions options_;
  std::shared_ptr<CrossRankSum> ranks_;
};
TORCH_MODULE(BatchNorm2d);

// Stops `module` learning: its parameters no longer require gradients and its batch norms become frozen (running
// statistics fixed, as FrozenBatchNorm2d). ResNet's freeze_at, a model's frozen_modules (a linear probe).
void freeze(torch::nn::Module& module);

// Synchronises every batch norm of `module` that is not frozen over `ranks` (as
// torch.nn.SyncBatchNorm.convert_sync_batchnorm); returns how many.
int64_t synchronize_batch_norms(torch::nn::Module& module, const std::shared_ptr<CrossRankSum>& ranks);

// torch::batch_norm with batch statistics (training = true), followed by ReLU when `relu`; running statistics
// updated as ATen does. Float NCHW input on CPU takes one autograd node with two passes over memory each way
// (batch_norm_training.cpp): 0.21 s instead of ATen's 0.39 s per ResNet-50-FPN training step (batch 8,
// 224x224, 2 cores). Other input takes ATen's ops. Once differentiable.
torch::Tensor batch_norm_training(const torch::Tensor& input, const torch::Tensor& weight, const torch::Tensor& bias,
                                  const torch::Tensor& running_mean, const torch::Tensor& running_var, double momentum,
                                  double eps, bool relu);

}  // namespace must::models
