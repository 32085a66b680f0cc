// Box regression targets, as torchvision.models.detection._utils.BoxCoder (R-CNN parametrisation):
//   dx = wx (gx - px) / pw,  dy = wy (gy - py) / ph,  dw = ww log(gw / pw),  dh = wh log(gh / ph)
// with centres (x, y) and sizes (w, h) of the proposal p and the ground truth g, and (wx, wy, ww, wh) the
// weights (RPN: 1, 1, 1, 1; RoI heads: 10, 10, 5, 5). Decoding clamps dw, dh at log(1000 / 16).
#pragma once

#include <torch/types.h>

#include <array>
#include <cmath>

namespace must::ops {

class BoxCoder {
 public:
  explicit BoxCoder(std::array<double, 4> weights = {1, 1, 1, 1}, double clip = std::log(1000.0 / 16))
      : weights_(weights), clip_(clip) {}
  // targets [N, 4] for ground-truth boxes `matched` [N, 4] against `proposals` [N, 4].
  torch::Tensor encode(const torch::Tensor& matched, const torch::Tensor& proposals) const;
  // deltas [N, 4k] applied to boxes [N, 4] -> [N, 4k] (k boxes per row, e.g. one per class), in
  // box_coordinate_type(deltas): float32 boxes from autocast's bf16 or fp16 deltas.
  torch::Tensor decode(const torch::Tensor& deltas, const torch::Tensor& boxes) const;

 private:
  std::array<double, 4> weights_;
  double clip_;
};

}  // namespace must::ops
