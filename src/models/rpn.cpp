#include "must/models/rpn.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/ops/boxes.h"
#include "must/ops/nms.h"

namespace must::models {
namespace {

namespace nn = torch::nn;

nn::Conv2d rpn_conv(int64_t in, int64_t out, int64_t kernel) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  nn::init::normal_(conv->weight, 0, 0.01);
  nn::init::zeros_(conv->bias);
  return conv;
}

// [N, A * C, H, W] -> [N, H * W * A, C]: the anchors' order (row, column, anchor type).
torch::Tensor per_anchor(const torch::Tensor& x, int64_t channels) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), a = x.size(1) / channels;
  return x.view({n, a, channels, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, channels});
}

}  // namespace

RpnHeadImpl::RpnHeadImpl(int64_t in_channels, int64_t anchors_per_location) {
  // torchvision: Conv2dNormActivation(norm_layer=None) inside a Sequential, hence conv.0.0.
  conv = register_module("conv", nn::ModuleList(nn::Sequential(rpn_conv(in_channels, in_channels, 3))));
  cls_logits = register_module("cls_logits", rpn_conv(in_channels, anchors_per_location, 1));
  bbox_pred = register_module("bbox_pred", rpn_conv(in_channels, 4 * anchors_per_location, 1));
}

std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> RpnHeadImpl::forward(
    const std::vector<torch::Tensor>& levels) {
  std::vector<torch::Tensor> objectness, deltas;
  for (const auto& x : levels) {
    const torch::Tensor t = conv[0]->as<nn::Sequential>()->forward(x).relu();
    objectness.push_back(cls_logits(t));
    deltas.push_back(bbox_pred(t));
  }
  return {objectness, deltas};
}

RegionProposalNetworkImpl::RegionProposalNetworkImpl(RpnOptions options)
    : options_(std::move(options)),
      anchors_(options_.anchors),
      coder_({1, 1, 1, 1}),
      matcher_(options_.foreground_iou, options_.background_iou, /*allow_low_quality_matches=*/true),
      sampler_(options_.batch_size_per_image, options_.positive_fraction, options_.random_sampling) {
  for (size_t level = 1; level < anchors_.num_levels(); ++level) {
    MUST_CHECK(anchors_.anchors_per_location(level) == anchors_.anchors_per_location(0),
               "the RPN head shares its convolutions across levels, so every level needs as many anchor types");
  }
  head = register_module("head", RpnHead(options_.in_channels, anchors_.anchors_per_location(0)));
}

RpnOutput RegionProposalNetworkImpl::forward(const std::vector<torch::Tensor>& levels,
                                             const std::vector<int64_t>& padded_size,
                                             const std::vector<std::array<int64_t, 2>>& image_sizes,
                                             const std::vector<structures::Instances>* targets) {
  MUST_CHECK(!levels.empty() && int64_t(image_sizes.size()) == levels[0].size(0), "the RPN needs ",
             levels.empty() ? 0 : levels[0].size(0), " image sizes, got ", image_sizes.size());
  MUST_CHECK(levels.size() == anchors_.num_levels(), "the RPN has anchors for ", anchors_.num_levels(),
             " levels, got ", levels.size(), " feature maps");
  auto [objectness_levels, delta_levels] = head->forward(levels);
  const torch::Tensor anchors = anchors_(levels, padded_size);
  const int64_t images = levels[0].size(0);

  std::vector<torch::Tensor> objectness_parts, delta_parts;
  std::vector<int64_t> per_level;
  for (size_t l = 0; l < levels.size(); ++l) {
    objectness_parts.push_back(per_anchor(objectness_levels[l], 1).squeeze(2));
    delta_parts.push_back(per_anchor(delta_levels[l], 4));
    per_level.push_back(objectness_parts.back().size(1));
  }
  const torch::Tensor objectness_all = torch::cat(objectness_parts, 1);  // [N, total]
  const torch::Tensor deltas_all = torch::cat(delta_parts, 1);           // [N, total, 4]
  const torch::Tensor objectness = objectness_all.detach();
  const int64_t total = objectness.size(1);
  const torch::Tensor decoded =
      coder_.decode(deltas_all.detach().reshape({-1, 4}), anchors.repeat({images, 1}))
          .view({images, total, 4});

  // The best pre_nms_top_n anchors of each level.
  const int64_t pre_nms = is_training() ? options_.pre_nms_top_n_train : options_.pre_nms_top_n_test;
  const int64_t post_nms = is_training() ? options_.post_nms_top_n_train : options_.post_nms_top_n_test;
  std::vector<torch::Tensor> top_indices, top_levels;
  int64_t offset = 0;
  for (size_t l = 0; l < per_level.size(); ++l) {
    const torch::Tensor level_scores = objectness.narrow(1, offset, per_level[l]);
    const torch::Tensor idx = std::get<1>(level_scores.topk(std::min(pre_nms, per_level[l]), 1)) + offset;
    top_indices.push_back(idx);
    top_levels.push_back(torch::full_like(idx, int64_t(l)));
    offset += per_level[l];
  }
  const torch::Tensor top = torch::cat(top_indices, 1), top_level = torch::cat(top_levels, 1);

  RpnOutput out;
  for (int64_t i = 0; i < images; ++i) {
    const torch::Tensor idx = top[i];
    torch::Tensor boxes = decoded[i].index_select(0, idx);
    torch::Tensor scores = torch::sigmoid(objectness[i].index_select(0, idx));
    torch::Tensor level = top_level[i];
    const auto [height, width] = image_sizes[size_t(i)];
    boxes = ops::clip_boxes_to_image(boxes, height, width);
    const torch::Tensor keep =
        (ops::large_enough(boxes, options_.min_size) & (scores >= options_.score_threshold)).nonzero().view({-1});
    boxes = boxes.index_select(0, keep);
    scores = scores.index_select(0, keep);
    level = level.index_select(0, keep);
    torch::Tensor kept = ops::batched_nms(boxes, scores, level, options_.nms_threshold);
    kept = kept.narrow(0, 0, std::min<int64_t>(post_nms, kept.size(0)));
    out.boxes.push_back(boxes.index_select(0, kept));
    out.scores.push_back(scores.index_select(0, kept));
  }
  if (targets) {
    MUST_CHECK(int64_t(targets->size()) == images, "the RPN got targets for ", targets->size(), " images, not ", images);
    out.losses = losses(anchors, objectness_all, deltas_all, *targets);
  }
  return out;
}

losses::LossDict RegionProposalNetworkImpl::losses(const torch::Tensor& anchors, const torch::Tensor& objectness,
                                                   const torch::Tensor& deltas,
                                                   const std::vector<structures::Instances>& targets) const {
  // Per image: anchor labels (1 object, 0 background, -1 neither) and the matched box of each anchor.
  std::vector<torch::Tensor> sampled_positive, sampled_negative, labels, matched_boxes;
  for (const auto& target : targets) {
    torch::Tensor matched = torch::zeros_like(anchors);
    torch::Tensor label = torch::zeros({anchors.size(0)}, anchors.options());
    if (target.size() > 0) {
      const torch::Tensor gt = target.boxes.to(anchors.scalar_type());
      const torch::Tensor matches = matcher_(ops::box_iou(gt, anchors), target.ignore);
      matched = gt.index_select(0, matches.clamp_min(0));
      label = (matches >= 0).to(anchors.scalar_type()).masked_fill(matches == ops::Matcher::kBetween, -1.0);
    }
    auto [positive, negative] = sampler_(label);
    sampled_positive.push_back(positive);
    sampled_negative.push_back(negative);
    labels.push_back(label);
    matched_boxes.push_back(matched);
  }
  const torch::Tensor positive = torch::cat(sampled_positive).nonzero().view({-1});
  const torch::Tensor sampled = torch::cat({positive, torch::cat(sampled_negative).nonzero().view({-1})});
  const std::string objectness_key = losses::loss_key(Task::kDetection, "rpn_objectness");
  const std::string box_key = losses::loss_key(Task::kDetection, "rpn_box");
  if (sampled.size(0) == 0) {  // no anchor to learn from: a zero without gradient, as every loss
    const torch::Tensor zero = torch::zeros({}, objectness.options());
    return {{objectness_key, zero}, {box_key, zero}};
  }
  // Positions run over the images' anchors in turn, so position p is anchor p mod A (no per-image copies).
  const torch::Tensor box_targets = coder_.encode(torch::cat(matched_boxes).index_select(0, positive),
                                                  anchors.index_select(0, positive.remainder(anchors.size(0))));
  // ATen's own smooth_l1_loss: LibTorch 1.13's functional wrapper ignores the options' beta.
  const torch::Tensor box_loss = torch::smooth_l1_loss(deltas.reshape({-1, 4}).index_select(0, positive), box_targets,
                                                       at::Reduction::Sum, 1.0 / 9) /
                                 double(sampled.size(0));
  const torch::Tensor objectness_loss = torch::nn::functional::binary_cross_entropy_with_logits(
      objectness.reshape({-1}).index_select(0, sampled), torch::cat(labels).index_select(0, sampled));
  return {{objectness_key, objectness_loss}, {box_key, box_loss}};
}

}  // namespace must::models
