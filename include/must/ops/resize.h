// Bilinear resize of [B, C, h, w] maps to a given size, align_corners = false: ATen's upsample_bilinear2d
// weights, as torchvision and the peers use. Float CPU input outside autograd (inference, the tools) takes our
// kernel (resize.cpp); anything else, training included, takes ATen's op.
#pragma once

#include <torch/types.h>

#include <vector>

namespace must::ops {

// Returns `x` itself when it already has `size` ({H, W}).
torch::Tensor resize_bilinear(const torch::Tensor& x, const std::vector<int64_t>& size);

}  // namespace must::ops
