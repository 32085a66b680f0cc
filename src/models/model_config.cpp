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
    small_input_stem: false   # 3x3 stride-1 first conv, no max-pool: for 28-32 px images (Fashion-MNIST, CIFAR)
  fpn_channels: 256
  dense_channels: 128         # shared dense trunk (p2..p5 summed at p2, then 1x1 to this)
  dense_levels: [p2, p3, p4, p5]
  init_from: ""               # weights to start from: a torchvision/PyTorch .pth or a .safetensors
  init_keys: []               # model-key prefixes init_from fills, e.g. [backbone.] ([] = every key the file has)
  frozen_modules: []          # submodules that learn no further (parameters fixed, batch norm frozen), e.g.
                              # [backbone] for a linear probe; names: backbone, backbone.body, backbone.fpn, ...
  # One entry per task: classification, detection, segmentation, depth, normals.
  heads:
    _any_:
      num_outputs: 0          # classes; 0 = the task's own (depth 1, normals 3)
      num_convs: 3            # dense heads: conv3x3 + BN + ReLU blocks
      loss:
        type: ""              # "" = the task's default: soft_cross_entropy, faster_rcnn, cross_entropy, l1, cosine
        temperature: 1.0      # soft_cross_entropy
        variance_focus: 0.85  # silog lambda
  # The detection head (Faster R-CNN on the FPN), when heads has `detection`. Defaults: torchvision's.
  detection:
    box_head: 4conv1fc        # 4conv1fc (the paper's; BN, convs as wide as the FPN) or 2fc (torchvision's)
    representation: 1024      # width of the box head's fully connected layer(s)
    anchor_sizes: [32, 64, 128, 256, 512]  # pixels, one per level p2..p6
    aspect_ratios: [0.5, 1.0, 2.0]         # height / width, every level
    random_sampling: true     # false: the losses take the first anchors and proposals in index order, not random
                              # ones (reproducible runs: the draws then do not depend on how ranks split a batch)
    rpn:
      pre_nms_top_n_train: 2000  # per level
      pre_nms_top_n_test: 1000
      post_nms_top_n_train: 2000 # per image
      post_nms_top_n_test: 1000
      nms_threshold: 0.7
      batch_size_per_image: 256  # anchors sampled for the losses
      positive_fraction: 0.5
    roi_heads:
      batch_size_per_image: 512  # proposals sampled for the losses
      positive_fraction: 0.25
      score_threshold: 0.05      # detections kept above it
      nms_threshold: 0.5         # per class
      detections_per_image: 100
)yaml";
}

namespace {

void detector_options_from_config(const config::Config& node, HeadOptions& head) {
  head.roi_heads.box_head = node.get_string("box_head");
  try {
    make_box_head(head.roi_heads);
  } catch (const ConfigError& e) {
    node.fail("box_head", e.what());
  }
  head.rpn.random_sampling = head.roi_heads.random_sampling = node.get_bool("random_sampling");
  head.roi_heads.representation = node.get_positive_int("representation");
  head.rpn.anchors.sizes.clear();
  for (double size : node.get_float_list("anchor_sizes")) {
    if (size <= 0) node.fail("anchor_sizes", "sizes must be positive");
    head.rpn.anchors.sizes.push_back({size});
  }
  if (head.rpn.anchors.sizes.size() != 5) node.fail("anchor_sizes", "needs one size per level p2..p6 (5)");
  head.rpn.anchors.aspect_ratios = {node.get_float_list("aspect_ratios")};
  for (double ratio : head.rpn.anchors.aspect_ratios[0]) {
    if (ratio <= 0) node.fail("aspect_ratios", "ratios must be positive");
  }
  const config::Config rpn = node.at("rpn");
  head.rpn.pre_nms_top_n_train = rpn.get_positive_int("pre_nms_top_n_train");
  head.rpn.pre_nms_top_n_test = rpn.get_positive_int("pre_nms_top_n_test");
  head.rpn.post_nms_top_n_train = rpn.get_positive_int("post_nms_top_n_train");
  head.rpn.post_nms_top_n_test = rpn.get_positive_int("post_nms_top_n_test");
  head.rpn.nms_threshold = rpn.get_float_in("nms_threshold", 0, 1);
  head.rpn.batch_size_per_image = rpn.get_positive_int("batch_size_per_image");
  head.rpn.positive_fraction = rpn.get_float_in("positive_fraction", 0, 1);
  const config::Config roi = node.at("roi_heads");
  head.roi_heads.batch_size_per_image = roi.get_positive_int("batch_size_per_image");
  head.roi_heads.positive_fraction = roi.get_float_in("positive_fraction", 0, 1);
  head.roi_heads.score_threshold = roi.get_float_in("score_threshold", 0, 1);
  head.roi_heads.nms_threshold = roi.get_float_in("nms_threshold", 0, 1);
  head.roi_heads.detections_per_image = roi.get_positive_int("detections_per_image");
}

}  // namespace

MultiTaskModelOptions model_options_from_config(const config::Config& model) {
  MultiTaskModelOptions options;
  const config::Config backbone = model.at("backbone");
  options.backbone = ResNetOptions(int(backbone.get_int("depth")))
                         .width_multiplier(backbone.get_positive_float("width_multiplier"))
                         .frozen_batch_norm(backbone.get_bool("frozen_batch_norm"))
                         .freeze_at(int(backbone.get_int("freeze_at")))
                         .channels_last(backbone.get_bool("channels_last"))
                         .small_input_stem(backbone.get_bool("small_input_stem"));
  const int64_t depth = backbone.get_int("depth");
  if (depth != 18 && depth != 34 && depth != 50 && depth != 101 && depth != 152) {
    backbone.fail("depth", "must be 18, 34, 50, 101 or 152");
  }
  if (options.backbone.freeze_at() < 0 || options.backbone.freeze_at() > 5) backbone.fail("freeze_at", "must lie in [0, 5]");
  options.fpn_channels = model.get_positive_int("fpn_channels");
  options.dense_channels = model.get_positive_int("dense_channels");
  options.dense_levels = model.get_string_list("dense_levels");
  options.init_from = model.get_string("init_from");
  options.init_keys = model.get_string_list("init_keys");
  options.frozen_modules = model.get_string_list("frozen_modules");
  if (options.dense_levels.empty()) model.fail("dense_levels", "needs at least one level");
  for (const auto& name : model.keys("heads")) {
    const config::Config node = model.at("heads." + name);
    HeadOptions head;
    head.task = model.task_named_by("heads." + name);
    if (!head_registry().contains(name)) node.fail("", "no head is built for task " + name + " yet");
    head.num_outputs = node.get_non_negative_int("num_outputs");
    head.num_convs = int(node.get_non_negative_int("num_convs"));
    head.loss.type = node.get_string("loss.type");
    head.loss.temperature = node.get_positive_float("loss.temperature");
    head.loss.variance_focus = node.get_float("loss.variance_focus");
    const std::string own_loss(task_spec(head.task).default_loss);
    if (losses::task_loss_registry().contains(own_loss)) {
      try {
        losses::make_task_loss(head.task, head.loss);
      } catch (const ConfigError& e) {
        node.fail("loss.type", e.what());
      }
    } else if (!head.loss.type.empty() && head.loss.type != own_loss) {  // the head computes its loss itself
      node.fail("loss.type", "the " + name + " head's loss is " + own_loss);
    }
    if (head_input(head.task) == HeadInput::kPyramid) detector_options_from_config(model.at("detection"), head);
    options.heads.push_back(head);
  }
  if (options.heads.empty()) model.fail("heads", "needs at least one head");
  return options;
}

}  // namespace must::models
