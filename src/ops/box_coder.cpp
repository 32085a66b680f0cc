#include "must/ops/box_coder.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/ops/boxes.h"

namespace must::ops {
namespace {

struct CentreSize {
  torch::Tensor x, y, w, h;
};

CentreSize centre_size(const torch::Tensor& boxes) {
  const torch::Tensor w = boxes.select(1, 2) - boxes.select(1, 0);
  const torch::Tensor h = boxes.select(1, 3) - boxes.select(1, 1);
  return {boxes.select(1, 0) + 0.5 * w, boxes.select(1, 1) + 0.5 * h, w, h};
}

}  // namespace

torch::Tensor BoxCoder::encode(const torch::Tensor& matched, const torch::Tensor& proposals) const {
  MUST_CHECK(matched.sizes() == proposals.sizes() && matched.dim() == 2 && matched.size(1) == 4,
             "encode needs two [N, 4] tensors, got ", matched.sizes(), " and ", proposals.sizes());
  const CentreSize p = centre_size(proposals), g = centre_size(matched);
  return torch::stack({weights_[0] * (g.x - p.x) / p.w, weights_[1] * (g.y - p.y) / p.h,
                       weights_[2] * torch::log(g.w / p.w), weights_[3] * torch::log(g.h / p.h)},
                      1);
}

torch::Tensor BoxCoder::decode(const torch::Tensor& deltas, const torch::Tensor& boxes) const {
  MUST_CHECK(deltas.dim() == 2 && deltas.size(1) % 4 == 0 && boxes.dim() == 2 && boxes.size(1) == 4 &&
                 deltas.size(0) == boxes.size(0),
             "decode needs deltas [N, 4k] and boxes [N, 4], got ", deltas.sizes(), " and ", boxes.sizes());
  const torch::ScalarType type = box_coordinate_type(deltas.scalar_type());
  const CentreSize b = centre_size(boxes.to(type));
  const torch::Tensor d = deltas.to(type);
  using torch::indexing::Slice;
  const torch::Tensor dx = d.index({Slice(), Slice(0, torch::indexing::None, 4)}) / weights_[0];
  const torch::Tensor dy = d.index({Slice(), Slice(1, torch::indexing::None, 4)}) / weights_[1];
  const torch::Tensor dw = (d.index({Slice(), Slice(2, torch::indexing::None, 4)}) / weights_[2]).clamp_max(clip_);
  const torch::Tensor dh = (d.index({Slice(), Slice(3, torch::indexing::None, 4)}) / weights_[3]).clamp_max(clip_);
  const torch::Tensor cx = dx * b.w.unsqueeze(1) + b.x.unsqueeze(1);
  const torch::Tensor cy = dy * b.h.unsqueeze(1) + b.y.unsqueeze(1);
  const torch::Tensor half_w = 0.5 * torch::exp(dw) * b.w.unsqueeze(1);
  const torch::Tensor half_h = 0.5 * torch::exp(dh) * b.h.unsqueeze(1);
  return torch::stack({cx - half_w, cy - half_h, cx + half_w, cy + half_h}, 2).flatten(1);
}

}  // namespace must::ops
