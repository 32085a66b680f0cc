// The second stage of Faster R-CNN, as torchvision's RoIHeads in eval mode: MultiScaleRoIAlign of the
// proposals (7x7 from p2..p5), a box head, class scores and class-specific box deltas (weights 10, 10, 5, 5),
// then per image: softmax, decode, clip, drop background, scores <= score_threshold and boxes under 0.01 px,
// NMS per class, keep detections_per_image. Names: box_head.fc6, box_head.fc7, box_predictor.cls_score,
// box_predictor.bbox_pred (torchvision's TwoMLPHead and FastRCNNPredictor).
// Training (proposal sampling, losses) and the paper's 4conv1fc head are not built yet.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <vector>

#include "must/ops/box_coder.h"
#include "must/ops/roi_align.h"

namespace must::models {

struct RoiHeadsOptions {
  int64_t in_channels = 256;
  int64_t num_classes = 91;        // including background (index 0)
  int64_t representation = 1024;   // fc6 / fc7 width
  ops::MultiScaleRoIAlignOptions pooler;
  double score_threshold = 0.05;
  double nms_threshold = 0.5;
  int64_t detections_per_image = 100;
};

struct Detections {
  std::vector<torch::Tensor> boxes;   // per image [D_i, 4]
  std::vector<torch::Tensor> scores;  // [D_i]
  std::vector<torch::Tensor> labels;  // [D_i] int64, 1..num_classes-1
};

class TwoMlpHeadImpl : public torch::nn::Module {
 public:
  TwoMlpHeadImpl(int64_t in_features, int64_t representation);
  torch::Tensor forward(const torch::Tensor& pooled);

 private:
  torch::nn::Linear fc6{nullptr}, fc7{nullptr};
};
TORCH_MODULE(TwoMlpHead);

class FastRcnnPredictorImpl : public torch::nn::Module {
 public:
  FastRcnnPredictorImpl(int64_t in_features, int64_t num_classes);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);  // logits [K, C], deltas [K, 4C]

 private:
  torch::nn::Linear cls_score{nullptr}, bbox_pred{nullptr};
};
TORCH_MODULE(FastRcnnPredictor);

class RoiHeadsImpl : public torch::nn::Module {
 public:
  explicit RoiHeadsImpl(RoiHeadsOptions options);
  // levels: p2..p5 of a padded batch of padded_size {H, W}; proposals per image; image_sizes for clipping.
  Detections forward(const std::vector<torch::Tensor>& levels, const std::vector<torch::Tensor>& proposals,
                     const std::vector<int64_t>& padded_size, const std::vector<std::array<int64_t, 2>>& image_sizes);

  TwoMlpHead box_head{nullptr};
  FastRcnnPredictor box_predictor{nullptr};

 private:
  RoiHeadsOptions options_;
  ops::BoxCoder coder_;
};
TORCH_MODULE(RoiHeads);

}  // namespace must::models
