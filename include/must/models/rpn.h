// The region proposal network of Faster R-CNN on FPN (Ren et al. 2015; Lin et al. 2017), as torchvision's
// RegionProposalNetwork + RPNHead (names head.conv.0.0, head.cls_logits, head.bbox_pred). Proposal selection:
// per level the pre_nms_top_n best objectness scores, decode, clip to the image, drop boxes under min_size,
// drop scores under score_thresh, NMS per level, keep post_nms_top_n (the *_train counts in training mode).
// Losses, when targets are given: anchors matched to ground truth (IoU >= 0.7 positive, < 0.3 negative, plus
// each box's best anchors; ignore regions neither), 256 sampled per image with up to half positives,
// objectness BCE over the sampled anchors and smooth-L1 (beta 1/9) of the positives' deltas divided by the
// number sampled (torchvision's RegionProposalNetwork.compute_loss).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <vector>

#include "must/losses/task_losses.h"
#include "must/ops/anchor_generator.h"
#include "must/ops/box_coder.h"
#include "must/ops/matcher.h"
#include "must/ops/sampler.h"
#include "must/structures/instances.h"

namespace must::models {

struct RpnOptions {
  int64_t in_channels = 256;
  ops::AnchorGeneratorOptions anchors;  // FPN default: sizes 32..512 on p2..p6, ratios 0.5, 1, 2
  int64_t pre_nms_top_n_train = 2000, pre_nms_top_n_test = 1000;    // per level
  int64_t post_nms_top_n_train = 2000, post_nms_top_n_test = 1000;  // per image
  double nms_threshold = 0.7;
  double score_threshold = 0.0;  // on sigmoid(objectness)
  double min_size = 1e-3;        // pixels
  // Training.
  double foreground_iou = 0.7, background_iou = 0.3;
  int64_t batch_size_per_image = 256;
  double positive_fraction = 0.5;
  bool random_sampling = true;  // false: the first anchors in index order (reproducible tests)
};

class RpnHeadImpl : public torch::nn::Module {
 public:
  RpnHeadImpl(int64_t in_channels, int64_t anchors_per_location);
  // Per level: objectness [N, A, H, W] and box deltas [N, 4A, H, W].
  std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> forward(const std::vector<torch::Tensor>& levels);

 private:
  torch::nn::ModuleList conv{nullptr};  // one Sequential(conv), as torchvision's Conv2dNormActivation in a Sequential
  torch::nn::Conv2d cls_logits{nullptr}, bbox_pred{nullptr};
};
TORCH_MODULE(RpnHead);

struct RpnOutput {
  std::vector<torch::Tensor> boxes;   // proposals per image [K_i, 4], best first, without gradient
  std::vector<torch::Tensor> scores;  // per image [K_i], sigmoid objectness
  losses::LossDict losses;            // loss/detection/rpn_objectness, loss/detection/rpn_box (with targets)
};

class RegionProposalNetworkImpl : public torch::nn::Module {
 public:
  explicit RegionProposalNetworkImpl(RpnOptions options);
  // levels: the pyramid (p2..p6) of a padded batch of size padded_size = {H, W}; image_sizes: each image's
  // own {h, w} inside it (boxes are clipped to those). targets: per image, for the losses (labels unused).
  RpnOutput forward(const std::vector<torch::Tensor>& levels, const std::vector<int64_t>& padded_size,
                    const std::vector<std::array<int64_t, 2>>& image_sizes,
                    const std::vector<structures::Instances>* targets = nullptr);

  RpnHead head{nullptr};

 private:
  losses::LossDict losses(const torch::Tensor& anchors, const torch::Tensor& objectness, const torch::Tensor& deltas,
                          const std::vector<structures::Instances>& targets) const;

  RpnOptions options_;
  ops::AnchorGenerator anchors_;
  ops::BoxCoder coder_;
  ops::Matcher matcher_;
  ops::BalancedSampler sampler_;
};
TORCH_MODULE(RegionProposalNetwork);

}  // namespace must::models
