#include "must/structures/image_list.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::structures {

ImageList ImageList::batch(const std::vector<torch::Tensor>& images, int64_t size_divisible) {
  MUST_CHECK(!images.empty(), "cannot batch zero images");
  MUST_CHECK(size_divisible >= 1, "size_divisible must be positive, got ", size_divisible);
  int64_t height = 0, width = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    MUST_CHECK(images[i].dim() == 3 && images[i].size(0) == images[0].size(0), "image ", i,
               " should be [C, H, W] with C = ", images[0].size(0), ", got ", images[i].sizes());
    height = std::max(height, images[i].size(1));
    width = std::max(width, images[i].size(2));
  }
  auto round_up = [&](int64_t v) { return (v + size_divisible - 1) / size_divisible * size_divisible; };
  ImageList out;
  out.tensors = torch::zeros({int64_t(images.size()), images[0].size(0), round_up(height), round_up(width)},
                             images[0].options());
  for (size_t i = 0; i < images.size(); ++i) {
    const int64_t h = images[i].size(1), w = images[i].size(2);
    out.tensors[int64_t(i)].narrow(1, 0, h).narrow(2, 0, w).copy_(images[i]);
    out.image_sizes.push_back({h, w});
  }
  return out;
}

}  // namespace must::structures
