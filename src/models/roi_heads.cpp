#include "must/models/roi_heads.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/models/batch_norm.h"
#include "must/ops/boxes.h"
#include "must/ops/nms.h"

namespace must::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

TwoMlpHeadImpl::TwoMlpHeadImpl(int64_t in_features, int64_t representation) {
  fc6 = register_module("fc6", nn::Linear(in_features, representation));
  fc7 = register_module("fc7", nn::Linear(representation, representation));
}

torch::Tensor TwoMlpHeadImpl::forward(const torch::Tensor& pooled) {
  return fc7(fc6(pooled.flatten(1)).relu()).relu();
}

ConvFcHeadImpl::ConvFcHeadImpl(int64_t in_channels, int64_t pooled_size, int64_t conv_channels, int num_convs,
                               int64_t representation) {
  int64_t channels = in_channels;
  for (int i = 0; i < num_convs; ++i) {
    nn::Conv2d conv(nn::Conv2dOptions(channels, conv_channels, 3).padding(1).bias(false));
    nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
    convs_.push_back(register_module(std::to_string(i), nn::Sequential(conv, BatchNorm2d(BatchNorm2dOptions(conv_channels)))));
    channels = conv_channels;
  }
  // torchvision's Sequential has Flatten at index num_convs, so the fc is num_convs + 1.
  fc = register_module(std::to_string(num_convs + 1), nn::Linear(channels * pooled_size * pooled_size, representation));
}

torch::Tensor ConvFcHeadImpl::forward(const torch::Tensor& pooled) {
  torch::Tensor x = pooled;
  for (auto& block : convs_) x = block->forward(x).relu();
  return fc(x.flatten(1)).relu();
}

std::shared_ptr<BoxHeadImpl> make_box_head(const RoiHeadsOptions& options) {
  const int64_t size = options.pooler.output_size;
  if (options.box_head == "2fc") {
    return std::make_shared<TwoMlpHeadImpl>(options.in_channels * size * size, options.representation);
  }
  if (options.box_head == "4conv1fc") {
    return std::make_shared<ConvFcHeadImpl>(options.in_channels, size, options.conv_channels, 4, options.representation);
  }
  MUST_THROW(ConfigError, "unknown box head '", options.box_head, "'; known: 2fc, 4conv1fc");
}

FastRcnnPredictorImpl::FastRcnnPredictorImpl(int64_t in_features, int64_t num_classes) {
  cls_score = register_module("cls_score", nn::Linear(in_features, num_classes));
  bbox_pred = register_module("bbox_pred", nn::Linear(in_features, num_classes * 4));
}

std::pair<torch::Tensor, torch::Tensor> FastRcnnPredictorImpl::forward(const torch::Tensor& x) {
  return {cls_score(x), bbox_pred(x)};
}

RoiHeadsImpl::RoiHeadsImpl(RoiHeadsOptions options)
    : options_(std::move(options)),
      coder_({10, 10, 5, 5}),
      matcher_(options_.foreground_iou, options_.background_iou, /*allow_low_quality_matches=*/false),
      sampler_(options_.batch_size_per_image, options_.positive_fraction, options_.random_sampling) {
  MUST_CHECK(options_.inference_chunk >= 1, "inference_chunk must be positive");
  MUST_CHECK(options_.num_classes >= 2, "a detector needs background and at least one class, got ",
             options_.num_classes, " classes");
  box_head = register_module("box_head", make_box_head(options_));
  box_predictor = register_module("box_predictor", FastRcnnPredictor(box_head->out_features(), options_.num_classes));
}

RoiHeadsOutput RoiHeadsImpl::forward(const std::vector<torch::Tensor>& levels, const std::vector<torch::Tensor>& proposals,
                                     const std::vector<int64_t>& padded_size,
                                     const std::vector<std::array<int64_t, 2>>& image_sizes,
                                     const std::vector<structures::Instances>* targets) {
  MUST_CHECK(proposals.size() == image_sizes.size(), "RoI heads: ", proposals.size(), " proposal sets for ",
             image_sizes.size(), " images");
  RoiHeadsOutput out;
  if (!targets) {
    const auto [logits, deltas] = classify_in_chunks(levels, proposals, padded_size);
    out.detections = detect(logits, deltas, proposals, image_sizes);
    return out;
  }
  MUST_CHECK(targets->size() == proposals.size(), "RoI heads: targets for ", targets->size(), " images, not ",
             proposals.size());
  // Per image: proposals plus ground truth, matched, sampled; labels 0 background, 1.. classes.
  std::vector<torch::Tensor> sampled_proposals, sampled_labels, box_targets;
  for (size_t i = 0; i < proposals.size(); ++i) {
    const structures::Instances& target = (*targets)[i];
    const torch::Tensor props = proposals[i].detach();
    torch::Tensor candidates = props, labels, matched;
    if (target.size() == 0) {
      labels = torch::zeros({props.size(0)}, props.options().dtype(torch::kLong));
      matched = torch::zeros_like(props);
    } else {
      const torch::Tensor gt = target.boxes.to(props.scalar_type());
      const torch::Tensor real = target.ignore.defined() ? target.ignore.logical_not().nonzero().view({-1})
                                                         : torch::arange(gt.size(0), torch::TensorOptions().dtype(torch::kLong).device(gt.device()));
      candidates = torch::cat({props, gt.index_select(0, real)});
      const torch::Tensor matches = matcher_(ops::box_iou(gt, candidates), target.ignore);
      const torch::Tensor gt_index = matches.clamp_min(0);
      labels = target.labels.to(torch::kLong)
                   .index_select(0, gt_index)
                   .masked_fill(matches == ops::Matcher::kBelowLow, 0)
                   .masked_fill(matches == ops::Matcher::kBetween, -1);
      matched = gt.index_select(0, gt_index);
    }
    const auto [positive, negative] = sampler_(labels);
    const torch::Tensor sampled = (positive | negative).nonzero().view({-1});
    sampled_proposals.push_back(candidates.index_select(0, sampled));
    sampled_labels.push_back(labels.index_select(0, sampled));
    box_targets.push_back(coder_.encode(matched.index_select(0, sampled), sampled_proposals.back()));
  }
  const torch::Tensor pooled = ops::multi_scale_roi_align(levels, sampled_proposals, padded_size, options_.pooler);
  const auto [logits, deltas] = box_predictor->forward(box_head->forward(pooled));
  const torch::Tensor labels = torch::cat(sampled_labels);
  const torch::Tensor targets_all = torch::cat(box_targets);
  const std::string classifier_key = losses::loss_key(Task::kDetection, "classifier");
  const std::string box_key = losses::loss_key(Task::kDetection, "box");
  if (labels.size(0) == 0) {
    const torch::Tensor zero = torch::zeros({}, logits.options());
    out.losses = {{classifier_key, zero}, {box_key, zero}};
    return out;
  }
  const torch::Tensor positive = (labels > 0).nonzero().view({-1});
  const torch::Tensor positive_deltas =
      deltas.view({deltas.size(0), -1, 4}).index({positive, labels.index_select(0, positive)});
  out.losses[classifier_key] = F::cross_entropy(logits, labels);
  // ATen's own smooth_l1_loss: LibTorch 1.13's functional wrapper ignores the options' beta.
  out.losses[box_key] =
      torch::smooth_l1_loss(positive_deltas, targets_all.index_select(0, positive), at::Reduction::Sum, 1.0 / 9) /
      double(labels.size(0));
  return out;
}

std::pair<torch::Tensor, torch::Tensor> RoiHeadsImpl::classify_in_chunks(const std::vector<torch::Tensor>& levels,
                                                                        const std::vector<torch::Tensor>& proposals,
                                                                        const std::vector<int64_t>& padded_size) {
  // A batch's proposals pooled at once are large (8 images x 1,000 proposals x 256 x 7 x 7 floats: 400 MB), and
  // the allocator maps such blocks fresh from the system for every batch: a quarter of a CPU detector's time went
  // to page faults. Chunks of boxes reuse the same memory, and each box's result is its own.
  const int64_t chunk_size = options_.inference_chunk;
  int64_t total = 0;
  for (const auto& p : proposals) total += p.size(0);
  if (total <= chunk_size) return box_predictor->forward(box_head->forward(ops::multi_scale_roi_align(
      levels, proposals, padded_size, options_.pooler)));
  // RoIAlign's CPU kernel reads channels-last maps: converted once here, not once per chunk.
  std::vector<torch::Tensor> channels_last;
  for (const auto& level : levels) channels_last.push_back(level.contiguous(torch::MemoryFormat::ChannelsLast));
  std::vector<torch::Tensor> logits, deltas;
  std::vector<torch::Tensor> chunk(proposals.size());
  for (size_t i = 0; i < proposals.size(); ++i) chunk[i] = proposals[i].narrow(0, 0, 0);
  for (size_t i = 0; i < proposals.size(); ++i) {
    const torch::Tensor none = chunk[i];
    for (int64_t start = 0; start < proposals[i].size(0); start += chunk_size) {
      chunk[i] = proposals[i].narrow(0, start, std::min(chunk_size, proposals[i].size(0) - start));
      auto [l, d] = box_predictor->forward(
          box_head->forward(ops::multi_scale_roi_align(channels_last, chunk, padded_size, options_.pooler)));
      logits.push_back(std::move(l));
      deltas.push_back(std::move(d));
    }
    chunk[i] = none;
  }
  return {torch::cat(logits), torch::cat(deltas)};
}

Detections RoiHeadsImpl::detect(const torch::Tensor& logits, const torch::Tensor& deltas,
                                const std::vector<torch::Tensor>& proposals,
                                const std::vector<std::array<int64_t, 2>>& image_sizes) const {
  const int64_t classes = options_.num_classes;
  const torch::Tensor all_proposals = torch::cat(proposals);
  const torch::Tensor boxes_all = coder_.decode(deltas, all_proposals).view({-1, classes, 4});
  const torch::Tensor scores_all = torch::softmax(logits, -1);

  Detections out;
  int64_t offset = 0;
  for (size_t i = 0; i < proposals.size(); ++i) {
    const int64_t n = proposals[i].size(0);
    const auto [height, width] = image_sizes[i];
    torch::Tensor boxes = ops::clip_boxes_to_image(boxes_all.narrow(0, offset, n), height, width);
    // Drop the background column, flatten (proposal, class) pairs.
    boxes = boxes.narrow(1, 1, classes - 1).reshape({-1, 4});
    torch::Tensor scores = scores_all.narrow(0, offset, n).narrow(1, 1, classes - 1).reshape({-1});
    torch::Tensor labels = torch::arange(1, classes, torch::TensorOptions().dtype(torch::kLong).device(boxes.device()))
                               .repeat({n});
    offset += n;
    const torch::Tensor keep = ((scores > options_.score_threshold) & ops::large_enough(boxes, 1e-2)).nonzero().view({-1});
    boxes = boxes.index_select(0, keep);
    scores = scores.index_select(0, keep);
    labels = labels.index_select(0, keep);
    torch::Tensor kept = ops::batched_nms(boxes, scores, labels, options_.nms_threshold);
    kept = kept.narrow(0, 0, std::min<int64_t>(options_.detections_per_image, kept.size(0)));
    out.boxes.push_back(boxes.index_select(0, kept));
    out.scores.push_back(scores.index_select(0, kept));
    out.labels.push_back(labels.index_select(0, kept));
  }
  return out;
}

}  // namespace must::models
