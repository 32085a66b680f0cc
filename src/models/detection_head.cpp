#include "must/models/detection_head.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::models {
namespace {

// Checks one sample's ground truth and moves its labels past the background class.
structures::Instances detector_targets(const structures::Instances& target, int64_t classes, int64_t sample) {
  structures::Instances out = target;
  if (target.size() == 0) {
    out.boxes = torch::zeros({0, 4});
    out.labels = torch::zeros({0}, torch::kLong);
    return out;
  }
  MUST_CHECK(target.boxes.dim() == 2 && target.boxes.size(1) == 4, "detection targets of sample ", sample,
             ": boxes should be [N, 4], got ", target.boxes.sizes());
  MUST_CHECK(target.labels.defined() && target.labels.numel() == target.size(), "detection targets of sample ", sample,
             ": ", target.size(), " boxes but ", target.labels.defined() ? target.labels.numel() : 0, " labels");
  const torch::Tensor labels = target.labels.to(torch::kLong);
  MUST_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < classes, "detection targets of sample ",
             sample, ": labels must lie in [0, ", classes, "), got ", labels.min().item<int64_t>(), "..",
             labels.max().item<int64_t>());
  const torch::Tensor width = target.boxes.select(1, 2) - target.boxes.select(1, 0);
  const torch::Tensor height = target.boxes.select(1, 3) - target.boxes.select(1, 1);
  MUST_CHECK(((width > 0) & (height > 0)).all().item<bool>(), "detection targets of sample ", sample,
             ": every box needs positive width and height (x1 < x2, y1 < y2)");
  out.labels = labels + 1;
  return out;
}

}  // namespace

DetectionHeadImpl::DetectionHeadImpl(const HeadOptions& options) : TaskHeadImpl(options.task) {
  MUST_CHECK(options.in_channels > 0, "detection head: in_channels must be set");
  classes_ = outputs_of(options);
  RpnOptions rpn_options = options.rpn;
  rpn_options.in_channels = options.in_channels;
  RoiHeadsOptions roi_options = options.roi_heads;
  roi_options.in_channels = options.in_channels;
  roi_options.conv_channels = options.in_channels;  // 4conv1fc: as wide as the pyramid
  roi_options.num_classes = classes_ + 1;
  rpn = register_module("rpn", RegionProposalNetwork(rpn_options));
  roi_heads = register_module("roi_heads", RoiHeads(roi_options));
}

HeadOutput DetectionHeadImpl::forward(const HeadInputs& inputs, const structures::TaskTargets* targets) {
  const std::vector<torch::Tensor>& levels = inputs.pyramid.tensors();
  MUST_CHECK(levels.size() > pooled_levels_, "the detection head needs p2..p6, got ", levels.size(), " pyramid levels");
  std::vector<std::array<int64_t, 2>> sizes = inputs.image_sizes;
  if (sizes.empty()) sizes.assign(size_t(levels[0].size(0)), {inputs.image_size[0], inputs.image_size[1]});
  HeadOutput out;

  if (is_training() && targets) {
    // Only the samples that carry detection labels take part in the losses.
    MUST_CHECK(int64_t(targets->instances.size()) == levels[0].size(0), "detection targets for ",
               targets->instances.size(), " samples, not ", levels[0].size(0));
    const torch::Tensor present = targets->present.defined()
                                      ? targets->present.to(torch::kBool).cpu()
                                      : torch::ones({levels[0].size(0)}, torch::kBool);
    const torch::Tensor chosen = present.nonzero().view({-1});
    if (chosen.size(0) == 0) return out;
    std::vector<torch::Tensor> chosen_levels = levels;
    std::vector<std::array<int64_t, 2>> chosen_sizes;
    std::vector<structures::Instances> chosen_targets;
    for (int64_t i : std::vector<int64_t>(chosen.data_ptr<int64_t>(), chosen.data_ptr<int64_t>() + chosen.size(0))) {
      chosen_sizes.push_back(sizes[size_t(i)]);
      chosen_targets.push_back(detector_targets(targets->instances[size_t(i)], classes_, i));
      chosen_targets.back().boxes = chosen_targets.back().boxes.to(levels[0].device());
      chosen_targets.back().labels = chosen_targets.back().labels.to(levels[0].device());
      if (chosen_targets.back().ignore.defined()) chosen_targets.back().ignore = chosen_targets.back().ignore.to(levels[0].device());
    }
    if (chosen.size(0) != levels[0].size(0)) {
      const torch::Tensor index = chosen.to(levels[0].device());
      for (auto& level : chosen_levels) level = level.index_select(0, index);
    }
    RpnOutput proposals = rpn->forward(chosen_levels, inputs.image_size, chosen_sizes, &chosen_targets);
    const std::vector<torch::Tensor> pooled(chosen_levels.begin(), chosen_levels.begin() + long(pooled_levels_));
    RoiHeadsOutput second = roi_heads->forward(pooled, proposals.boxes, inputs.image_size, chosen_sizes, &chosen_targets);
    out.losses = std::move(proposals.losses);
    out.losses.insert(second.losses.begin(), second.losses.end());
    return out;
  }

  const RpnOutput proposals = rpn->forward(levels, inputs.image_size, sizes);
  const std::vector<torch::Tensor> pooled(levels.begin(), levels.begin() + long(pooled_levels_));
  const Detections detections = roi_heads->forward(pooled, proposals.boxes, inputs.image_size, sizes).detections;
  for (size_t i = 0; i < detections.boxes.size(); ++i) {
    structures::Instances instances;
    instances.boxes = detections.boxes[i];
    instances.labels = detections.labels[i] - 1;
    instances.scores = detections.scores[i];
    out.instances.push_back(std::move(instances));
  }
  return out;
}

}  // namespace must::models
