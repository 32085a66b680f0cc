#include "must/ops/boxes.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::ops {
namespace {

void check_boxes(const torch::Tensor& boxes, const char* what) {
  MUST_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, what, " should be an [N, 4] tensor, got ", boxes.sizes());
}

}  // namespace

torch::Tensor box_area(const torch::Tensor& boxes) {
  check_boxes(boxes, "boxes");
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b) {
  check_boxes(a, "boxes a");
  check_boxes(b, "boxes b");
  const torch::Tensor top_left = torch::max(a.unsqueeze(1).narrow(2, 0, 2), b.unsqueeze(0).narrow(2, 0, 2));
  const torch::Tensor bottom_right = torch::min(a.unsqueeze(1).narrow(2, 2, 2), b.unsqueeze(0).narrow(2, 2, 2));
  const torch::Tensor wh = (bottom_right - top_left).clamp_min(0);
  const torch::Tensor intersection = wh.select(2, 0) * wh.select(2, 1);
  const torch::Tensor union_area = box_area(a).unsqueeze(1) + box_area(b).unsqueeze(0) - intersection;
  return torch::where(union_area > 0, intersection / union_area, torch::zeros_like(intersection));
}

}  // namespace must::ops
