#include "must/models/multi_task_model.h"

#include <torch/torch.h>

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
  // Heads are built first (without registering) to learn which inputs they need.
  bool needs_pyramid = false;
  const int64_t res5_channels = ResNetImpl::output_shape_of(options_.backbone).back().channels;
  std::vector<std::shared_ptr<TaskHeadImpl>> built;
  for (HeadOptions head : options_.heads) {
    MUST_CHECK(!heads_.count(head.task), "two heads for task ", task_name(head.task));
    head.in_channels = task_spec(head.task).target == TargetKind::kClassVector ? res5_channels : options_.dense_channels;
    auto module = head_registry().create(std::string(task_name(head.task)), head);
    needs_pyramid = needs_pyramid || module->uses_pyramid();
    heads_[head.task] = module;
  }
  backbone = register_module("backbone", BackboneWithFpn(options_.backbone, options_.fpn_channels, needs_pyramid));
  if (needs_pyramid) {
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
  if (options_.backbone.channels_last()) to_channels_last(*this);
}

void MultiTaskModelImpl::fuse_for_inference() {
  backbone->body->fuse_for_inference();
  if (backbone->fpn) backbone->fpn->fuse_for_inference();
  for (auto& [task, head] : heads_) head->fuse_for_inference();
}

std::vector<Task> MultiTaskModelImpl::tasks() const {
  std::vector<Task> out;
  for (const auto& entry : heads_) out.push_back(entry.first);
  return out;
}

ModelOutput MultiTaskModelImpl::forward(const torch::Tensor& images, const structures::Targets* targets) {
  MUST_CHECK(images.dim() == 4 && images.size(1) == 3, "images should be [B, 3, H, W], got ", images.sizes());
  const structures::FeatureMap features = backbone->body->forward_features(images);
  const structures::FeatureMap pyramid = backbone->fpn ? backbone->fpn->forward(features) : structures::FeatureMap();
  const torch::Tensor dense = dense_trunk ? dense_trunk->forward(pyramid) : torch::Tensor();
  const HeadInputs inputs{features, pyramid, dense, {images.size(2), images.size(3)}};
  ModelOutput out;
  for (const auto& [task, head] : heads_) {
    const structures::TaskTargets* task_targets =
        targets && targets->has(task) ? &targets->tasks.at(task) : nullptr;
    HeadOutput head_out = head->forward(inputs, task_targets);
    out.predictions[task] = head_out.prediction;
    out.losses.insert(head_out.losses.begin(), head_out.losses.end());
  }
  return out;
}

std::string_view model_defaults() {
  return R"yaml(
model:
  backbone:
    depth: 50                 # ResNet 18, 34, 50, 101 or 152
    width_multiplier: 1.0     # stage widths 64..512 times this; 0.25-0.5 for the world on a CPU
    frozen_batch_norm: false  # FrozenBatchNorm2d everywhere (small per-device batches)
    freeze_at: 0              # frozen stages: 0 none, 1 stem, 2 stem + res2, ... 5 all
    channels_last: false      # NHWC memory format
  fpn_channels: 256
  dense_channels: 128         # shared dense trunk (p2..p5 summed at p2, then 1x1 to this)
  dense_levels: [p2, p3, p4, p5]
  init_from: ""               # weights to start from: a torchvision/PyTorch .pth or a .safetensors
  # One entry per task: classification, segmentation, depth, normals.
  heads:
    _any_:
      num_outputs: 0          # classes; 0 = the task's own (depth 1, normals 3)
      num_convs: 3            # dense heads: conv3x3 + BN + ReLU blocks
      loss:
        type: ""              # "" = the task's default: soft_cross_entropy, cross_entropy, l1, cosine
        temperature: 1.0      # soft_cross_entropy
        variance_focus: 0.85  # silog lambda
)yaml";
}

MultiTaskModelOptions model_options_from_config(const config::Config& model) {
  MultiTaskModelOptions options;
  const config::Config backbone = model.at("backbone");
  options.backbone = ResNetOptions(int(backbone.get_int("depth")))
                         .width_multiplier(backbone.get_float("width_multiplier"))
                         .frozen_batch_norm(backbone.get_bool("frozen_batch_norm"))
                         .freeze_at(int(backbone.get_int("freeze_at")))
                         .channels_last(backbone.get_bool("channels_last"));
  const int64_t depth = backbone.get_int("depth");
  if (depth != 18 && depth != 34 && depth != 50 && depth != 101 && depth != 152) {
    backbone.fail("depth", "must be 18, 34, 50, 101 or 152");
  }
  if (options.backbone.width_multiplier() <= 0) backbone.fail("width_multiplier", "must be positive");
  if (options.backbone.freeze_at() < 0 || options.backbone.freeze_at() > 5) backbone.fail("freeze_at", "must lie in [0, 5]");
  options.fpn_channels = model.get_int("fpn_channels");
  options.dense_channels = model.get_int("dense_channels");
  if (options.fpn_channels <= 0) model.fail("fpn_channels", "must be positive");
  if (options.dense_channels <= 0) model.fail("dense_channels", "must be positive");
  options.dense_levels = model.get_string_list("dense_levels");
  if (options.dense_levels.empty()) model.fail("dense_levels", "needs at least one level");
  for (const auto& name : model.keys("heads")) {
    const config::Config node = model.at("heads." + name);
    HeadOptions head;
    try {
      head.task = task_from_name(name);
    } catch (const ConfigError& e) {
      node.fail("", e.what());
    }
    if (!head_registry().contains(name)) node.fail("", "no head is built for task " + name + " yet");
    head.num_outputs = node.get_int("num_outputs");
    head.num_convs = int(node.get_int("num_convs"));
    if (head.num_outputs < 0) node.fail("num_outputs", "must not be negative");
    if (head.num_convs < 0) node.fail("num_convs", "must not be negative");
    head.loss.type = node.get_string("loss.type");
    head.loss.temperature = node.get_float("loss.temperature");
    head.loss.variance_focus = node.get_float("loss.variance_focus");
    if (head.loss.temperature <= 0) node.fail("loss.temperature", "must be positive");
    try {
      losses::make_task_loss(head.task, head.loss);
    } catch (const ConfigError& e) {
      node.fail("loss.type", e.what());
    }
    options.heads.push_back(head);
  }
  if (options.heads.empty()) model.fail("heads", "needs at least one head");
  return options;
}

}  // namespace must::models
