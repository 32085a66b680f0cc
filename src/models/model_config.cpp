#include "must/models/model_config.h"

#include "must/core/check.h"

namespace must::models {

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
