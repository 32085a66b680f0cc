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

torch::Tensor clip_boxes_to_image(const torch::Tensor& boxes, int64_t height, int64_t width) {
  MUST_CHECK(boxes.size(-1) == 4, "boxes should end in a dimension of 4, got ", boxes.sizes());
  const int64_t last = boxes.dim() - 1;
  return torch::stack({boxes.select(last, 0).clamp(0, width), boxes.select(last, 1).clamp(0, height),
                       boxes.select(last, 2).clamp(0, width), boxes.select(last, 3).clamp(0, height)},
                      last);
}

torch::Tensor large_enough(const torch::Tensor& boxes, double min_size) {
  check_boxes(boxes, "boxes");
  return (boxes.select(1, 2) - boxes.select(1, 0) >= min_size) & (boxes.select(1, 3) - boxes.select(1, 1) >= min_size);
}

}  // namespace must::ops
