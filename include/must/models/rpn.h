// The region proposal network of Faster R-CNN on FPN (Ren et al. 2015; Lin et al. 2017), as torchvision's
// RegionProposalNetwork + RPNHead (names head.conv.0.0, head.cls_logits, head.bbox_pred). Proposal selection:
// per level the pre_nms_top_n best objectness scores, decode, clip to the image, drop boxes under min_size,
// drop scores under score_thresh, NMS per level, keep post_nms_top_n.
// Training (matching, sampling, losses) is not built yet: forward() in training mode throws.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <vector>

#include "must/ops/anchor_generator.h"
#include "must/ops/box_coder.h"

namespace must::models {

struct RpnOptions {
  int64_t in_channels = 256;
  ops::AnchorGeneratorOptions anchors;  // FPN default: sizes 32..512 on p2..p6, ratios 0.5, 1, 2
  int64_t pre_nms_top_n_train = 2000, pre_nms_top_n_test = 1000;    // per level
  int64_t post_nms_top_n_train = 2000, post_nms_top_n_test = 1000;  // per image
  double nms_threshold = 0.7;
  double score_threshold = 0.0;  // on sigmoid(objectness)
  double min_size = 1e-3;        // pixels
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

struct Proposals {
  std::vector<torch::Tensor> boxes;   // per image [K_i, 4], best first
  std::vector<torch::Tensor> scores;  // per image [K_i], sigmoid objectness
};

class RegionProposalNetworkImpl : public torch::nn::Module {
 public:
  explicit RegionProposalNetworkImpl(RpnOptions options);
  // levels: the pyramid (p2..p6) of a padded batch of size padded_size = {H, W}; image_sizes: each image's
  // own {h, w} inside it (boxes are clipped to those).
  Proposals forward(const std::vector<torch::Tensor>& levels, const std::vector<int64_t>& padded_size,
                    const std::vector<std::array<int64_t, 2>>& image_sizes);

  RpnHead head{nullptr};

 private:
  RpnOptions options_;
  ops::AnchorGenerator anchors_;
  ops::BoxCoder coder_;
};
TORCH_MODULE(RegionProposalNetwork);

}  // namespace must::models
