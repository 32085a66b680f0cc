// Non-maximum suppression, as torchvision.ops.nms / batched_nms: greedy in descending score order; a box is
// dropped when its IoU with a kept box is greater than the threshold. Returns kept indices (int64), highest
// score first. Ties in score keep the lower index first (a stable sort), as torchvision's CPU kernel does.
// Runs on CPU tensors (torchvision's greedy loop) and CUDA tensors (the overlap matrix on the device, packed to bits
// there; the greedy pass on the host).
#pragma once

#include <torch/types.h>

namespace must::ops {

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);
// NMS within each class (`idxs`), boxes of different classes never suppressing each other.
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                          double iou_threshold);

// What nms and batched_nms run on a GPU, callable on any device so that the CPU tests cover them too.
namespace detail {
// nms by the packed overlap matrix.
torch::Tensor nms_over_overlap_bits(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);
// batched_nms as one nms per class (torchvision's _batched_nms_vanilla), for many boxes.
torch::Tensor batched_nms_per_class(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                                    double iou_threshold);
}  // namespace detail

}  // namespace must::ops
