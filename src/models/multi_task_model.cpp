#include "must/models/multi_task_model.h"

#include <torch/torch.h>

#include <algorithm>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must::models {

BackboneWithFpnImpl::BackboneWithFpnImpl(const ResNetOptions& body_options, int64_t fpn_channels, bool with_fpn) {
  body = register_module("body", ResNet(body_options));
  if (with_fpn) {
    FpnOptions fpn_options;
    fpn_options.in_features = body->output_shape();
    fpn_options.out_channels = fpn_channels;
    fpn = register_module("fpn", Fpn(fpn_options));
  }
}

MultiTaskModelImpl::MultiTaskModelImpl(MultiTaskModelOptions options) : options_(std::move(options)) {
  MUST_CHECK(!options_.heads.empty(), "a model needs at least one head");
  // What the heads read decides what is built: the FPN for the pyramid or the dense trunk, the trunk for maps.
  bool needs_pyramid = false, needs_dense_trunk = false;
  const int64_t res5_channels = ResNetImpl::output_shape_of(options_.backbone).back().channels;
  for (HeadOptions head : options_.heads) {
    MUST_CHECK(!heads_.count(head.task), "two heads for task ", task_name(head.task));
    switch (head_input(head.task)) {
      case HeadInput::kBackbone: head.in_channels = res5_channels; break;
      case HeadInput::kPyramid: head.in_channels = options_.fpn_channels, needs_pyramid = true; break;
      case HeadInput::kDenseTrunk: head.in_channels = options_.dense_channels, needs_dense_trunk = true; break;
    }
    heads_[head.task] = head_registry().create(std::string(task_name(head.task)), head);
  }
  backbone = register_module("backbone", BackboneWithFpn(options_.backbone, options_.fpn_channels,
                                                         needs_pyramid || needs_dense_trunk));
  if (needs_dense_trunk) {
    DenseTrunkOptions trunk;
    trunk.out_channels = options_.dense_channels;
    for (const auto& level : options_.dense_levels) {
      bool found = false;
      for (const auto& spec : backbone->fpn->output_shape()) {
        if (spec.name == level) trunk.levels.push_back(spec), found = true;
      }
      if (!found) MUST_THROW(ConfigError, "dense level '", level, "' is not a pyramid level (p2..p6)");
    }
    dense_trunk = register_module("dense_trunk", DenseTrunk(trunk));
  }
  auto head_parent = register_module("heads", std::make_shared<torch::nn::Module>());
  for (const auto& [task, head] : heads_) head_parent->register_module(std::string(task_name(task)), head);
  const auto submodules = named_modules("", /*include_self=*/false);
  for (const std::string& name : options_.frozen_modules) {
    const auto* module = submodules.find(name);
    if (module == nullptr) {
      std::vector<std::string> names;
      for (const auto& item : submodules) {
        if (std::count(item.key().begin(), item.key().end(), '.') <= 1) names.push_back(item.key());
      }
      MUST_THROW(ConfigError, "model.frozen_modules: '", name, "' is not a submodule of the model (", join(names), ")");
    }
    freeze(**module);
  }
  if (options_.backbone.channels_last()) to_channels_last(*this);
}

void MultiTaskModelImpl::fuse_for_inference() {
  // The fused layers are oneDNN's, CPU only; on a GPU cuDNN picks its own kernels and the model stays as it is.
  if (!parameters().empty() && !parameters().front().device().is_cpu()) return;
  backbone->body->fuse_for_inference();
  if (backbone->fpn) backbone->fpn->fuse_for_inference();
  for (auto& [task, head] : heads_) head->fuse_for_inference();
}

int64_t MultiTaskModelImpl::synchronize_batch_norms(const std::shared_ptr<CrossRankSum>& ranks,
                                                    std::vector<std::string>* left_out) {
  int64_t count = models::synchronize_batch_norms(*backbone, ranks);
  if (dense_trunk) count += models::synchronize_batch_norms(*dense_trunk, ranks);
  for (auto& [task, head] : heads_) {
    if (head->runs_whole_every_training_step()) {
      count += models::synchronize_batch_norms(*head, ranks);
    } else if (left_out) {
      left_out->push_back(std::string(task_name(task)));
    }
  }
  return count;
}

std::vector<Task> MultiTaskModelImpl::tasks() const {
  std::vector<Task> out;
  for (const auto& entry : heads_) out.push_back(entry.first);
  return out;
}

ModelOutput MultiTaskModelImpl::forward(const torch::Tensor& images, const structures::Targets* targets,
                                        const std::vector<std::array<int64_t, 2>>& image_sizes) {
  MUST_CHECK(images.dim() == 4 && images.size(1) == 3, "images should be [B, 3, H, W], got ", images.sizes());
  MUST_CHECK(image_sizes.empty() || int64_t(image_sizes.size()) == images.size(0), image_sizes.size(),
             " image sizes for a batch of ", images.size(0));
  const structures::FeatureMap features = backbone->body->forward_features(images);
  const structures::FeatureMap pyramid = backbone->fpn ? backbone->fpn->forward(features) : structures::FeatureMap();
  const torch::Tensor dense = dense_trunk ? dense_trunk->forward(pyramid) : torch::Tensor();
  const HeadInputs inputs{features, pyramid, dense, {images.size(2), images.size(3)}, image_sizes};
  ModelOutput out;
  for (const auto& [task, head] : heads_) {
    const structures::TaskTargets* task_targets =
        targets && targets->has(task) ? &targets->tasks.at(task) : nullptr;
    HeadOutput head_out = head->forward(inputs, task_targets);
    if (head_out.prediction.defined()) out.predictions[task] = head_out.prediction;
    if (!head_out.instances.empty()) out.instances[task] = std::move(head_out.instances);
    out.losses.insert(head_out.losses.begin(), head_out.losses.end());
  }
  return out;
}

ModelOutput MultiTaskModelImpl::forward(const structures::ImageList& batch, const structures::Targets* targets) {
  return forward(batch.tensors, targets, batch.image_sizes);
}

}  // namespace must::models
