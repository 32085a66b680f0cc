// Box geometry on [N, 4] tensors of (x1, y1, x2, y2) in continuous pixel coordinates (torchvision's
// convention: no "+1"; the VOC evaluation's +1 convention lives in the evaluator).
#pragma once

#include <torch/types.h>

namespace must::ops {

// [N] areas.
torch::Tensor box_area(const torch::Tensor& boxes);
// [N, M] intersection over union; 0 where the union is empty.
torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b);
// Boxes [..., 4] clamped to an image of the given size (x to [0, width], y to [0, height]).
torch::Tensor clip_boxes_to_image(const torch::Tensor& boxes, int64_t height, int64_t width);
// [N] bool: boxes at least min_size wide and high (torchvision's remove_small_boxes, as a mask).
torch::Tensor large_enough(const torch::Tensor& boxes, double min_size);

}  // namespace must::ops
