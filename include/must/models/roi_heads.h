// The second stage of Faster R-CNN, as torchvision's RoIHeads: MultiScaleRoIAlign of the proposals (7x7 from
// p2..p5), a box head, class scores and class-specific box deltas (weights 10, 10, 5, 5).
//
// Inference, per image: softmax, decode, clip, drop background, scores <= score_threshold and boxes under
// 0.01 px, NMS per class, keep detections_per_image.
// Training (targets given): the ground-truth boxes join the proposals; proposals are matched (IoU >= 0.5 a
// positive of the box's class, below it background; ignore regions neither), 512 sampled per image with up to
// a quarter positives; losses are the cross-entropy over the sampled proposals and the smooth-L1 (beta 1/9) of
// the positives' deltas for their class, summed and divided by the number sampled (torchvision's fastrcnn_loss).
//
// Box heads (names as torchvision, so its checkpoints load):
//   2fc       TwoMLPHead: fc6, fc7 (1024 wide)                         torchvision's fasterrcnn_resnet50_fpn
//   4conv1fc  FastRCNNConvFCHead: 4 x (conv3x3 + BN + ReLU), then fc    MuST (the paper's detector), fasterrcnn v2
//             names box_head.{0..3}.0 (conv), box_head.{0..3}.1 (BN), box_head.5 (fc)
// Predictor: box_predictor.cls_score, box_predictor.bbox_pred. Class 0 is the background.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "must/losses/task_losses.h"
#include "must/ops/box_coder.h"
#include "must/ops/matcher.h"
#include "must/ops/roi_align.h"
#include "must/ops/sampler.h"
#include "must/structures/instances.h"

namespace must::models {

struct RoiHeadsOptions {
  int64_t in_channels = 256;
  int64_t num_classes = 91;        // including background (index 0)
  std::string box_head = "2fc";    // 2fc or 4conv1fc
  int64_t representation = 1024;   // width of the fully connected layer(s)
  int64_t conv_channels = 256;     // 4conv1fc
  ops::MultiScaleRoIAlignOptions pooler;
  double score_threshold = 0.05;
  double nms_threshold = 0.5;
  int64_t detections_per_image = 100;
  // Inference pools and classifies at most this many proposals at a time: a batch's pooled features at once are
  // hundreds of MB, mapped fresh from the system every batch. Results do not depend on it.
  int64_t inference_chunk = 512;
  // Training.
  double foreground_iou = 0.5, background_iou = 0.5;
  int64_t batch_size_per_image = 512;
  double positive_fraction = 0.25;
  bool random_sampling = true;  // false: the first proposals in index order (reproducible tests)
};

struct Detections {
  std::vector<torch::Tensor> boxes;   // per image [D_i, 4]
  std::vector<torch::Tensor> scores;  // [D_i]
  std::vector<torch::Tensor> labels;  // [D_i] int64, 1..num_classes-1
};

struct RoiHeadsOutput {
  Detections detections;    // inference only (empty in training, as torchvision)
  losses::LossDict losses;  // loss/detection/classifier, loss/detection/box (with targets)
};

// What turns pooled RoI features [K, C, S, S] into one vector per RoI [K, out_features()].
class BoxHeadImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& pooled) = 0;
  virtual int64_t out_features() const = 0;
};

class TwoMlpHeadImpl final : public BoxHeadImpl {
 public:
  TwoMlpHeadImpl(int64_t in_features, int64_t representation);
  torch::Tensor forward(const torch::Tensor& pooled) override;
  int64_t out_features() const override { return fc7->options.out_features(); }

 private:
  torch::nn::Linear fc6{nullptr}, fc7{nullptr};
};

class ConvFcHeadImpl final : public BoxHeadImpl {
 public:
  ConvFcHeadImpl(int64_t in_channels, int64_t pooled_size, int64_t conv_channels, int num_convs, int64_t representation);
  torch::Tensor forward(const torch::Tensor& pooled) override;
  int64_t out_features() const override { return fc->options.out_features(); }

 private:
  std::vector<torch::nn::Sequential> convs_;  // conv + BN each
  torch::nn::Linear fc{nullptr};
};

// Builds the box head a config names (2fc or 4conv1fc); throws must::ConfigError otherwise.
std::shared_ptr<BoxHeadImpl> make_box_head(const RoiHeadsOptions& options);

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
  // targets: per image, labels 1..num_classes-1 (training); with them the output holds losses, not detections.
  RoiHeadsOutput forward(const std::vector<torch::Tensor>& levels, const std::vector<torch::Tensor>& proposals,
                         const std::vector<int64_t>& padded_size,
                         const std::vector<std::array<int64_t, 2>>& image_sizes,
                         const std::vector<structures::Instances>* targets = nullptr);

  std::shared_ptr<BoxHeadImpl> box_head;
  FastRcnnPredictor box_predictor{nullptr};

 private:
  // Inference: class logits and box deltas of every proposal, pooled and classified a chunk of boxes at a time.
  std::pair<torch::Tensor, torch::Tensor> classify_in_chunks(const std::vector<torch::Tensor>& levels,
                                                             const std::vector<torch::Tensor>& proposals,
                                                             const std::vector<int64_t>& padded_size);
  Detections detect(const torch::Tensor& logits, const torch::Tensor& deltas, const std::vector<torch::Tensor>& proposals,
                    const std::vector<std::array<int64_t, 2>>& image_sizes) const;

  RoiHeadsOptions options_;
  ops::BoxCoder coder_;
  ops::Matcher matcher_;
  ops::BalancedSampler sampler_;
};
TORCH_MODULE(RoiHeads);

}  // namespace must::models
