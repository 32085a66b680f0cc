// Anchors as torchvision.models.detection.anchor_utils.AnchorGenerator: per pyramid level, base anchors of
// each (size, aspect ratio) centred on 0 (w = size / sqrt(ratio), h = size * sqrt(ratio), corners rounded),
// shifted by the level's stride over its grid. Order: level, then row, column, then anchor type (ratio major).
#pragma once

#include <torch/types.h>

#include <vector>

namespace must::ops {

struct AnchorGeneratorOptions {
  // One list of sizes per level (Faster R-CNN FPN: one size per level, 32..512 on p2..p6).
  std::vector<std::vector<double>> sizes{{32}, {64}, {128}, {256}, {512}};
  // One list of height / width ratios per level, or a single list used for every level.
  std::vector<std::vector<double>> aspect_ratios{{0.5, 1.0, 2.0}};
};

class AnchorGenerator {
 public:
  explicit AnchorGenerator(AnchorGeneratorOptions options = {});
  size_t num_levels() const { return cell_anchors_.size(); }
  int64_t anchors_per_location(size_t level) const { return cell_anchors_.at(level).size(0); }
  // The anchors of one image: [sum over levels of H_l * W_l * A_l, 4], for feature maps [*, *, H_l, W_l] of a
  // padded batch whose images are image_size = {H, W} (strides are H / H_l, W / W_l, integer division).
  torch::Tensor operator()(const std::vector<torch::Tensor>& feature_maps, const std::vector<int64_t>& image_size) const;

 private:
  std::vector<torch::Tensor> cell_anchors_;  // per level [A, 4], float32
};

}  // namespace must::ops
