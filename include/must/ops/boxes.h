// Box geometry on [N, 4] tensors of (x1, y1, x2, y2) in continuous pixel coordinates (torchvision's
// convention: no "+1"; the VOC evaluation's +1 convention lives in the evaluator).
#pragma once

#include <torch/types.h>

namespace must::ops {

// [N] areas.
torch::Tensor box_area(const torch::Tensor& boxes);
// [N, M] intersection over union; 0 where the union is empty.
torch::Tensor box_iou(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace must::ops
