// Bilinear resize without autograd (resize.h).
//
// Why: the 150-class segmentation logits of a batch of 8, upsampled from 56x56 to 224x224, took ATen's
// upsample_bilinear2d 75-89 ms (of a 2.5 s ResNet-50-FPN inference batch, 2 cores); this kernel takes 29-31 ms
// (must_bench_model --which resize).
//
// How: per plane, each input row is first resized along x; each output row is then a blend of two of those
// rows (contiguous, vectorised). Planes run in parallel. The result equals ATen's up to float rounding (the
// two 1-D blends are taken in the other order).
#include "must/ops/resize.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include "must/core/check.h"
#include "must/core/cpu_kernel.h"

namespace must::ops {
namespace {

// `columns_done` holds each input row resized along x (in_height x out_width); each output row then blends two
// of those rows, contiguous and vectorised. Gathers happen in_height x out_width times, not out_height x out_width.
MUST_CPU_KERNEL void resize_plane(const float* in, float* out, int64_t in_height, int64_t in_width, int64_t out_height,
                                  int64_t out_width, const LinearTap* rows, const LinearTap* columns,
                                  float* columns_done) {
  for (int64_t y = 0; y < in_height; ++y) {
    const float* source = in + y * in_width;
    float* resized = columns_done + y * out_width;
    for (int64_t x = 0; x < out_width; ++x) {
      const LinearTap& c = columns[x];
      resized[x] = source[c.first] * c.first_weight + source[c.second] * c.second_weight;
    }
  }
  for (int64_t y = 0; y < out_height; ++y) {
    const LinearTap& r = rows[y];
    blend(out + y * out_width, columns_done + r.first * out_width, r.first_weight, columns_done + r.second * out_width,
          r.second_weight, out_width);
  }
}

}  // namespace

torch::Tensor resize_bilinear(const torch::Tensor& x, const std::vector<int64_t>& size) {
  MUST_CHECK(x.dim() == 4 && size.size() == 2, "resize_bilinear: [B, C, h, w] and {H, W} expected, got ", x.sizes(),
             " and ", size.size(), " sizes");
  if (x.size(2) == size[0] && x.size(3) == size[1]) return x;
  const bool kernel = x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
                      !(torch::GradMode::is_enabled() && x.requires_grad()) && x.is_contiguous();
  if (!kernel) return torch::upsample_bilinear2d(x, size, /*align_corners=*/false);
  RECORD_FUNCTION("must::resize_bilinear", std::vector<c10::IValue>({x}));
  const int64_t in_height = x.size(2), in_width = x.size(3), plane = in_height * in_width;
  const int64_t out_height = size[0], out_width = size[1];
  const auto rows = linear_taps(in_height, out_height);
  const auto columns = linear_taps(in_width, out_width);
  torch::Tensor out = torch::empty({x.size(0), x.size(1), out_height, out_width}, x.options());
  const float* in = x.data_ptr<float>();
  float* result = out.data_ptr<float>();
  at::parallel_for(0, x.size(0) * x.size(1), 1, [&](int64_t begin, int64_t end) {
    std::vector<float> columns_done(static_cast<size_t>(in_height * out_width));
    for (int64_t p = begin; p < end; ++p) {
      resize_plane(in + p * plane, result + p * out_height * out_width, in_height, in_width, out_height, out_width,
                   rows.data(), columns.data(), columns_done.data());
    }
  });
  return out;
}

}  // namespace must::ops
