// The MuST model: a shared ResNet(-FPN) backbone and one head per task (docs/architecture.md). A teacher is the same
// model with one head; the student has several. Parameter names follow torchvision's detectors, so their
// checkpoints load as they are: backbone.body.* (ResNet), backbone.fpn.* (FPN), then dense_trunk.*, heads.<task>.*
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "must/models/batch_norm.h"
#include "must/models/fpn.h"
#include "must/models/heads.h"
#include "must/models/resnet.h"
#include "must/structures/image_list.h"
#include "must/structures/targets.h"

namespace must::models {

struct MultiTaskModelOptions {
  ResNetOptions backbone;
  int64_t fpn_channels = 256;
  int64_t dense_channels = 128;                                  // the dense trunk's output channels
  std::vector<std::string> dense_levels{"p2", "p3", "p4", "p5"};  // pyramid levels fused for dense heads
  std::vector<HeadOptions> heads;                                // at most one per task
  std::string init_from;  // weights the training tools load after building the model ("" = none)
  std::vector<std::string> init_keys;       // model-key prefixes init_from fills (none: every key the file has)
  std::vector<std::string> frozen_modules;  // submodules that learn no further, e.g. "backbone" (a linear probe)
};

struct ModelOutput {
  // Predictions come in eval mode, or in training mode without targets; in training mode with targets a head
  // returns its losses alone (heads.h).
  std::map<Task, torch::Tensor> predictions;                       // tensor heads
  std::map<Task, std::vector<structures::Instances>> instances;  // detection, per image
  losses::LossDict losses;  // every head's terms, when targets were given for its task
};

// ResNet body + FPN, named as torchvision's BackboneWithFPN.
class BackboneWithFpnImpl : public torch::nn::Module {
 public:
  BackboneWithFpnImpl(const ResNetOptions& body, int64_t fpn_channels, bool with_fpn);
  ResNet body{nullptr};
  Fpn fpn{nullptr};  // null when no head needs the pyramid
};
TORCH_MODULE(BackboneWithFpn);

class MultiTaskModelImpl : public torch::nn::Module {
 public:
  explicit MultiTaskModelImpl(MultiTaskModelOptions options);
  // images: [B, 3, H, W], normalised. targets: optional; losses are computed for the tasks it holds.
  // image_sizes: each image's own {h, w} in a padded batch (empty: all fill the batch).
  ModelOutput forward(const torch::Tensor& images, const structures::Targets* targets = nullptr,
                      const std::vector<std::array<int64_t, 2>>& image_sizes = {});
  ModelOutput forward(const structures::ImageList& batch, const structures::Targets* targets = nullptr);
  std::vector<Task> tasks() const;
  // Eval-mode CPU inference with batch norm folded into oneDNN convolutions (backbone body and dense heads);
  // see ResNetImpl::fuse_for_inference. train() undoes it. Does nothing to a model on another device.
  void fuse_for_inference();
  // Synchronised batch norm (batch_norm.h) for the backbone, the dense trunk and the heads that run whole every
  // training step; returns the layers synchronised. The heads left out (detection's box head) keep per-rank
  // statistics: their names go to `left_out`.
  int64_t synchronize_batch_norms(const std::shared_ptr<CrossRankSum>& ranks, std::vector<std::string>* left_out);
  const MultiTaskModelOptions& options() const { return options_; }

  BackboneWithFpn backbone{nullptr};

 private:
  MultiTaskModelOptions options_;
  DenseTrunk dense_trunk{nullptr};
  std::map<Task, std::shared_ptr<TaskHeadImpl>> heads_;
};
TORCH_MODULE(MultiTaskModel);

}  // namespace must::models
