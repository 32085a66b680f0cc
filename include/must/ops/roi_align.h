// RoIAlign (He et al. 2017) with torchvision's numerics (torchvision.ops.roi_align, MultiScaleRoIAlign),
// written with LibTorch tensor ops: it runs on any device and its backward (for the features, not the boxes)
// comes from autograd.
//
// Each output bin averages sampling_ratio^2 bilinear samples (ceil(roi size / bins) per axis when
// sampling_ratio <= 0). The bilinear weights factor into a y part and an x part, so the op is a gather of 4
// neighbours per sample point, weighted and summed, done for chunks of boxes to bound memory.
#pragma once

#include <torch/types.h>

#include <vector>

namespace must::ops {

// input [N, C, H, W]; rois [K, 5] = (batch index, x1, y1, x2, y2) in input-image pixels.
// aligned: shift by half a pixel (Detectron2's ROIAlignV2); torchvision's detectors use false.
// Returns [K, C, pooled_height, pooled_width].
torch::Tensor roi_align(const torch::Tensor& input, const torch::Tensor& rois, double spatial_scale,
                        int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned);

// torchvision.ops.MultiScaleRoIAlign: each box is pooled from one FPN level chosen by its size,
// level = floor(4 + log2(sqrt(area) / 224 + 1e-6)) clamped to the levels given (Lin et al. 2017, eq. 1).
struct MultiScaleRoIAlignOptions {
  int64_t output_size = 7;
  int64_t sampling_ratio = 2;
  int64_t canonical_scale = 224;
  int64_t canonical_level = 4;
};

// features: the levels to pool from (highest resolution first, e.g. p2..p5); boxes: per image, [K_i, 4];
// image_size: {H, W} of the (padded) input batch, from which each level's scale is inferred.
// Returns [sum K_i, C, output_size, output_size] in box order.
torch::Tensor multi_scale_roi_align(const std::vector<torch::Tensor>& features, const std::vector<torch::Tensor>& boxes,
                                    const std::vector<int64_t>& image_size, const MultiScaleRoIAlignOptions& options = {});

}  // namespace must::ops
