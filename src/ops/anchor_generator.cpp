#include "must/ops/anchor_generator.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::ops {

AnchorGenerator::AnchorGenerator(AnchorGeneratorOptions options) {
  MUST_CHECK(!options.sizes.empty(), "the anchor generator needs sizes for at least one level");
  MUST_CHECK(options.aspect_ratios.size() == 1 || options.aspect_ratios.size() == options.sizes.size(),
             "anchor aspect_ratios: one list, or one per level (", options.sizes.size(), "), got ",
             options.aspect_ratios.size());
  for (size_t level = 0; level < options.sizes.size(); ++level) {
    const auto& ratios = options.aspect_ratios[options.aspect_ratios.size() == 1 ? 0 : level];
    MUST_CHECK(!ratios.empty() && !options.sizes[level].empty(), "anchor level ", level, " has no sizes or ratios");
    const torch::Tensor scales = torch::tensor(options.sizes[level], torch::kFloat);
    const torch::Tensor h_ratios = torch::sqrt(torch::tensor(ratios, torch::kFloat));
    const torch::Tensor w_ratios = 1 / h_ratios;
    const torch::Tensor ws = (w_ratios.unsqueeze(1) * scales.unsqueeze(0)).reshape({-1});
    const torch::Tensor hs = (h_ratios.unsqueeze(1) * scales.unsqueeze(0)).reshape({-1});
    cell_anchors_.push_back((torch::stack({-ws, -hs, ws, hs}, 1) / 2).round());
  }
}

torch::Tensor AnchorGenerator::operator()(const std::vector<torch::Tensor>& feature_maps,
                                          const std::vector<int64_t>& image_size) const {
  MUST_CHECK(feature_maps.size() == cell_anchors_.size(), "anchor generator has ", cell_anchors_.size(),
             " levels but got ", feature_maps.size(), " feature maps");
  MUST_CHECK(image_size.size() == 2, "image_size should be {H, W}");
  std::vector<torch::Tensor> anchors;
  for (size_t level = 0; level < feature_maps.size(); ++level) {
    const auto& map = feature_maps[level];
    const int64_t grid_h = map.size(-2), grid_w = map.size(-1);
    const int64_t stride_h = image_size[0] / grid_h, stride_w = image_size[1] / grid_w;
    const auto int_options = torch::TensorOptions().dtype(torch::kInt).device(map.device());
    const torch::Tensor shifts_x = torch::arange(0, grid_w, int_options) * stride_w;
    const torch::Tensor shifts_y = torch::arange(0, grid_h, int_options) * stride_h;
    const auto grid = torch::meshgrid({shifts_y, shifts_x}, "ij");
    const torch::Tensor sx = grid[1].reshape({-1}), sy = grid[0].reshape({-1});
    const torch::Tensor shifts = torch::stack({sx, sy, sx, sy}, 1);
    const torch::Tensor base = cell_anchors_[level].to(map.device());
    anchors.push_back((shifts.view({-1, 1, 4}) + base.view({1, -1, 4})).reshape({-1, 4}));
  }
  return torch::cat(anchors);
}

}  // namespace must::ops
