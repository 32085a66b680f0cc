// Box geometry on [N, 4] tensors of (x1, y1, x2, y2) in continuous pixel coordinates (torchvision's
// convention: no "+1"; the VOC evaluation's +1 convention lives in the evaluator).
#pragma once

#include <torch/types.h>

namespace must::ops {

// The type box coordinates are computed in for values of type `type`: float32 for autocast's bf16 and fp16
// (bf16's 8-bit significand puts representable coordinates 2 px apart between 256 and 512 px), else `type` itself.
// As detectron2's apply_deltas and torchvision's roi_align autocast rule.
inline torch::ScalarType box_coordinate_type(torch::ScalarType type) {
  return type == torch::kBFloat16 || type == torch::kHalf ? torch::kFloat : type;
}

// [N] areas.
torch::Tensor box_area(const torch::Tensor& boxes);
// [N, M] intersection over union; 0 where the union is empty.
torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b);
// Boxes [..., 4] clamped to an image of the given size (x to [0, width], y to [0, height]).
torch::Tensor clip_boxes_to_image(const torch::Tensor& boxes, int64_t height, int64_t width);
// [N] bool: boxes at least min_size wide and high (torchvision's remove_small_boxes, as a mask).
torch::Tensor large_enough(const torch::Tensor& boxes, double min_size);

}  // namespace must::ops
