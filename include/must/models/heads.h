// Task heads behind one interface (docs/architecture.md): given targets a head returns its named
// losses as well as its prediction; without, the prediction alone.
//   classification  global average pool of res5 -> linear `fc` -> logits [B, C]
//   segmentation    dense trunk -> 3 x (conv3x3 + BN + ReLU) -> 1x1 conv -> bilinear to the input -> logits [B, C, H, W]
//   depth           same, 1 channel, softplus (positive metres)                              -> [B, 1, H, W]
//   normals         same, 3 channels, L2-normalised after upsampling                         -> [B, 3, H, W]
//   detection       Faster R-CNN on the pyramid (detection_head.h)                          -> instances per image
// The dense trunk (DenseTrunk) is shared by the dense heads: the pyramid levels upsampled to p2, summed, and
// reduced by a 1x1 conv.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "must/core/registry.h"
#include "must/core/task.h"
#include "must/losses/task_losses.h"
#include "must/models/fused_conv.h"
#include "must/models/roi_heads.h"
#include "must/models/rpn.h"
#include "must/structures/feature_map.h"
#include "must/structures/targets.h"

namespace must::models {

struct HeadInputs {
  const structures::FeatureMap& backbone;  // res2..res5
  const structures::FeatureMap& pyramid;   // p2..p6 (empty when the model has no FPN)
  const torch::Tensor& dense;              // the dense trunk's output at p2 (undefined without dense heads)
  std::vector<int64_t> image_size;         // {H, W} of the input batch
  std::vector<std::array<int64_t, 2>> image_sizes;  // each image's own {h, w} inside the (padded) batch
};

// Which features a head reads; decided by what its task predicts (see head_input()).
enum class HeadInput {
  kBackbone,    // res2..res5 (image-level labels pool res5)
  kPyramid,     // the FPN levels (boxes)
  kDenseTrunk,  // the dense trunk at p2 (per-pixel maps)
};
HeadInput head_input(Task task);

struct HeadOutput {
  torch::Tensor prediction;                     // tensor heads
  std::vector<structures::Instances> instances;  // detection: per image, 0-based labels with scores
  losses::LossDict losses;  // filled only when targets were given
};

struct HeadOptions {
  Task task = Task::kClassification;
  int64_t num_outputs = 0;   // classes; 0 = the task table's channels (depth 1, normals 3)
  int64_t in_channels = 0;   // set by the model: res5 channels, or the dense trunk's channels
  int num_convs = 3;         // dense heads: conv3x3 + BN + ReLU blocks before the predictor
  losses::LossOptions loss;
  // Detection: the two stages (in_channels and num_classes are set from the above).
  RpnOptions rpn;
  RoiHeadsOptions roi_heads;
};

class TaskHeadImpl : public torch::nn::Module {
 public:
  explicit TaskHeadImpl(Task task) : task_(task) {}
  Task task() const { return task_; }
  // Prediction, plus losses when `targets` is given.
  virtual HeadOutput forward(const HeadInputs& inputs, const structures::TaskTargets* targets) = 0;
  // See ResNetImpl::fuse_for_inference. Heads without convolutions need nothing.
  virtual void fuse_for_inference() {}
  // Whether every layer of the head runs in every training step, whatever the batch labels: then its batch norms
  // can be synchronised over the ranks (each of their forwards is a collective every rank must make).
  virtual bool runs_whole_every_training_step() const { return true; }

 private:
  Task task_;
};

// A head whose prediction is one tensor and whose loss is the registered TaskLoss of its task applied to it.
// In training mode with targets it returns the losses alone, as the detection head (and torchvision's and
// detectron2's models) do: a dense head then need not form its full-resolution prediction. In eval mode it
// returns the prediction, and the losses too when given targets (validation).
class TensorHeadImpl : public TaskHeadImpl {
 public:
  explicit TensorHeadImpl(const HeadOptions& options);
  virtual torch::Tensor predict(const HeadInputs& inputs) = 0;
  HeadOutput forward(const HeadInputs& inputs, const structures::TaskTargets* targets) override;

 protected:
  // The losses in training mode; by default the loss of predict().
  virtual losses::LossDict training_losses(const HeadInputs& inputs, const structures::TaskTargets& targets);
  const losses::TaskLoss& loss() const { return *loss_; }

 private:
  std::unique_ptr<losses::TaskLoss> loss_;
};

class ClassificationHeadImpl final : public TensorHeadImpl {
 public:
  explicit ClassificationHeadImpl(const HeadOptions& options);
  torch::Tensor predict(const HeadInputs& inputs) override;

 private:
  torch::nn::Linear fc{nullptr};
};

// What a dense head does to its upsampled output.
enum class DenseActivation { kNone, kSoftplus, kL2Normalize };

class DenseHeadImpl final : public TensorHeadImpl {
 public:
  DenseHeadImpl(const HeadOptions& options, DenseActivation activation);
  torch::Tensor predict(const HeadInputs& inputs) override;
  void fuse_for_inference() override;
  void train(bool on = true) override;

 protected:
  // Without an activation the loss reads the stride-4 output (TaskLoss::of_upsampled; for cross-entropy that
  // skips the full-resolution logits).
  losses::LossDict training_losses(const HeadInputs& inputs, const structures::TaskTargets& targets) override;

 private:
  torch::Tensor low_resolution(const HeadInputs& inputs);  // the predictor's output, at the dense trunk's stride
  // Upsampled to `size`, then the activation.
  torch::Tensor finish(const torch::Tensor& low_resolution, const std::vector<int64_t>& size) const;

  DenseActivation activation_;
  std::vector<FusedConv2d> fused_;  // conv + BN blocks, then the predictor; empty when not fused
  torch::nn::Sequential convs{nullptr};
  torch::nn::Conv2d predictor{nullptr};
};

struct DenseTrunkOptions {
  std::vector<structures::FeatureSpec> levels;  // pyramid levels summed (upsampled to the first)
  int64_t out_channels = 128;
};

class DenseTrunkImpl : public torch::nn::Module {
 public:
  explicit DenseTrunkImpl(DenseTrunkOptions options);
  torch::Tensor forward(const structures::FeatureMap& pyramid);

 private:
  DenseTrunkOptions options_;
  torch::nn::Conv2d reduce{nullptr};
};
TORCH_MODULE(DenseTrunk);

// Heads by task name: classification, detection, segmentation, depth, normals.
using HeadRegistry = Registry<std::shared_ptr<TaskHeadImpl>, const HeadOptions&>;
HeadRegistry& head_registry();

// The number of outputs of a head: num_outputs, or the task table's channels; throws must::ConfigError when
// a classifier is given neither.
int64_t outputs_of(const HeadOptions& options);

}  // namespace must::models
