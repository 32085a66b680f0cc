// Images of different sizes as one padded batch, with each image's own size kept (torchvision's ImageList and
// GeneralizedRCNNTransform.batch_images): the batch is as large as the largest image in each dimension,
// rounded up to a multiple of size_divisible (the backbone's largest stride), zero-padded at the bottom and right.
#pragma once

#include <torch/types.h>

#include <array>
#include <vector>

namespace must::structures {

struct ImageList {
  torch::Tensor tensors;                            // [N, C, H, W]
  std::vector<std::array<int64_t, 2>> image_sizes;  // each image's {h, w} inside it

  // images: [C, h_i, w_i] each, same C, dtype and device.
  static ImageList batch(const std::vector<torch::Tensor>& images, int64_t size_divisible = 32);
  std::vector<int64_t> padded_size() const { return {tensors.size(2), tensors.size(3)}; }
  // As Targets::to and Targets::pinned.
  ImageList to(const torch::Device& device, bool non_blocking = false) const {
    return {tensors.to(device, non_blocking), image_sizes};
  }
  ImageList pinned() const { return {tensors.pin_memory(), image_sizes}; }
};

}  // namespace must::structures
