#include "must/models/roi_heads.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/ops/boxes.h"
#include "must/ops/nms.h"

namespace must::models {

namespace nn = torch::nn;

TwoMlpHeadImpl::TwoMlpHeadImpl(int64_t in_features, int64_t representation) {
  fc6 = register_module("fc6", nn::Linear(in_features, representation));
  fc7 = register_module("fc7", nn::Linear(representation, representation));
}

torch::Tensor TwoMlpHeadImpl::forward(const torch::Tensor& pooled) {
  return fc7(fc6(pooled.flatten(1)).relu()).relu();
}

FastRcnnPredictorImpl::FastRcnnPredictorImpl(int64_t in_features, int64_t num_classes) {
  cls_score = register_module("cls_score", nn::Linear(in_features, num_classes));
  bbox_pred = register_module("bbox_pred", nn::Linear(in_features, num_classes * 4));
}

std::pair<torch::Tensor, torch::Tensor> FastRcnnPredictorImpl::forward(const torch::Tensor& x) {
  return {cls_score(x), bbox_pred(x)};
}

RoiHeadsImpl::RoiHeadsImpl(RoiHeadsOptions options) : options_(options), coder_({10, 10, 5, 5}) {
  MUST_CHECK(options_.num_classes >= 2, "a detector needs background and at least one class, got ",
             options_.num_classes, " classes");
  const int64_t size = options_.pooler.output_size;
  box_head = register_module("box_head", TwoMlpHead(options_.in_channels * size * size, options_.representation));
  box_predictor = register_module("box_predictor", FastRcnnPredictor(options_.representation, options_.num_classes));
}

Detections RoiHeadsImpl::forward(const std::vector<torch::Tensor>& levels, const std::vector<torch::Tensor>& proposals,
                                 const std::vector<int64_t>& padded_size,
                                 const std::vector<std::array<int64_t, 2>>& image_sizes) {
  MUST_CHECK(!is_training(), "RoI head training (proposal sampling, losses) is not built yet");
  MUST_CHECK(proposals.size() == image_sizes.size(), "RoI heads: ", proposals.size(), " proposal sets for ",
             image_sizes.size(), " images");
  const torch::Tensor pooled = ops::multi_scale_roi_align(levels, proposals, padded_size, options_.pooler);
  const auto [logits, deltas] = box_predictor->forward(box_head->forward(pooled));
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
