#include "must/ops/roi_align.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"
#include "must/core/cpu_kernel.h"
#include "must/ops/boxes.h"

namespace must::ops {
namespace {

// Boxes per chunk: bounds the gathered [points x 4, C] buffer (64 boxes, 7x7 bins, 2x2 samples, 256 channels:
// 50 MB of float32).
constexpr int64_t kChunk = 64;

struct AxisSamples {
  torch::Tensor low, high;            // [K, P, S] int64 feature indices
  torch::Tensor weight_low, weight_high;  // [K, P, S], zero for samples outside the map
};

// Sample positions along one axis, with torchvision's bilinear_interpolate rules: a sample beyond [-1, size]
// contributes nothing; otherwise it is clamped to [0, size - 1].
AxisSamples axis_samples(const torch::Tensor& start, const torch::Tensor& bin, int64_t bins, int64_t grid, int64_t size) {
  const auto options = start.options();
  const torch::Tensor p = torch::arange(bins, options).view({1, bins, 1});
  const torch::Tensor i = torch::arange(grid, options).view({1, 1, grid});
  const torch::Tensor b = bin.view({-1, 1, 1});
  // start + p * bin + (i + .5) * bin / grid, in this order (float rounding as torchvision).
  torch::Tensor coord = start.view({-1, 1, 1}) + p * b + (i + 0.5) * b / double(grid);
  const torch::Tensor valid = (coord >= -1.0) & (coord <= double(size));
  coord = coord.clamp_min(0);
  torch::Tensor low = coord.floor().to(torch::kLong);
  const torch::Tensor at_edge = low >= size - 1;
  low = torch::where(at_edge, torch::full_like(low, size - 1), low);
  const torch::Tensor high = torch::where(at_edge, low, low + 1);
  coord = torch::where(at_edge, low.to(coord.scalar_type()), coord);
  const torch::Tensor frac = coord - low.to(coord.scalar_type());
  const torch::Tensor keep = valid.to(coord.scalar_type());
  return {low, high, (1 - frac) * keep, frac * keep};
}

// RoIAlign for boxes that all use the same sampling grid.
torch::Tensor roi_align_fixed_grid(const torch::Tensor& features_flat, int64_t height, int64_t width,
                                   const torch::Tensor& batch, const torch::Tensor& start_y, const torch::Tensor& start_x,
                                   const torch::Tensor& bin_h, const torch::Tensor& bin_w, int64_t ph, int64_t pw,
                                   int64_t grid_h, int64_t grid_w) {
  const AxisSamples y = axis_samples(start_y, bin_h, ph, grid_h, height);
  const AxisSamples x = axis_samples(start_x, bin_w, pw, grid_w, width);
  const int64_t k = batch.size(0), channels = features_flat.size(1);
  // [K, PH, PW, Sy, Sx, 2 (y low/high), 2 (x low/high)]
  const torch::Tensor yi = torch::stack({y.low, y.high}, -1).view({k, ph, 1, grid_h, 1, 2, 1});
  const torch::Tensor yw = torch::stack({y.weight_low, y.weight_high}, -1).view({k, ph, 1, grid_h, 1, 2, 1});
  const torch::Tensor xi = torch::stack({x.low, x.high}, -1).view({k, 1, pw, 1, grid_w, 1, 2});
  const torch::Tensor xw = torch::stack({x.weight_low, x.weight_high}, -1).view({k, 1, pw, 1, grid_w, 1, 2});
  const torch::Tensor base = batch.view({k, 1, 1, 1, 1, 1, 1}) * (height * width);
  const torch::Tensor index = (base + yi * width + xi).reshape({-1});
  const torch::Tensor weight = (yw * xw).reshape({-1, 1});
  const int64_t per_bin = grid_h * grid_w * 4;
  const torch::Tensor values = features_flat.index_select(0, index) * weight;
  const double count = double(std::max<int64_t>(grid_h * grid_w, 1));
  return (values.view({k, ph, pw, per_bin, channels}).sum(3) / count).permute({0, 3, 1, 2});
}

// A sample position along one axis, by torchvision's bilinear_interpolate rules (as axis_samples above): false
// beyond [-1, size]; otherwise the two neighbours (the last one twice at the far edge) and the fraction.
MUST_KERNEL_INLINE bool axis_sample(float coord, int64_t size, int64_t& low, int64_t& high, float& frac) {
  if (coord < -1.0f || coord > float(size)) return false;
  coord = std::max(coord, 0.0f);
  low = int64_t(coord);
  high = low + 1;
  if (low >= size - 1) low = high = size - 1, coord = float(low);
  frac = coord - float(low);
  return true;
}

// One box's bins, straight from an NHWC float map (torchvision's CPU kernel, channels innermost): for inference,
// where the gather path above would materialise every sample's four corners for every channel first.
MUST_CPU_KERNEL void roi_align_box(const float* features, int64_t height, int64_t width, int64_t channels,
                                   float start_y, float start_x, float bin_h, float bin_w, int64_t pooled_height,
                                   int64_t pooled_width, int64_t grid_h, int64_t grid_w, float* out) {
  const float count = float(std::max<int64_t>(grid_h * grid_w, 1));
  for (int64_t py = 0; py < pooled_height; ++py) {
    for (int64_t px = 0; px < pooled_width; ++px) {
      float* bin = out + (py * pooled_width + px) * channels;
      std::fill(bin, bin + channels, 0.0f);
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        int64_t y_low, y_high;
        float ly;
        const float y = start_y + float(py) * bin_h + (float(iy) + 0.5f) * bin_h / float(grid_h);
        if (!axis_sample(y, height, y_low, y_high, ly)) continue;
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          int64_t x_low, x_high;
          float lx;
          const float x = start_x + float(px) * bin_w + (float(ix) + 0.5f) * bin_w / float(grid_w);
          if (!axis_sample(x, width, x_low, x_high, lx)) continue;
          const float w1 = (1.0f - ly) * (1.0f - lx), w2 = (1.0f - ly) * lx, w3 = ly * (1.0f - lx), w4 = ly * lx;
          const float* p1 = features + (y_low * width + x_low) * channels;
          const float* p2 = features + (y_low * width + x_high) * channels;
          const float* p3 = features + (y_high * width + x_low) * channels;
          const float* p4 = features + (y_high * width + x_high) * channels;
          for (int64_t c = 0; c < channels; ++c) bin[c] += w1 * p1[c] + w2 * p2[c] + w3 * p3[c] + w4 * p4[c];
        }
      }
      for (int64_t c = 0; c < channels; ++c) bin[c] /= count;
    }
  }
}

torch::Tensor roi_align_direct(const torch::Tensor& input, const torch::Tensor& rois, double spatial_scale,
                               int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3), k = rois.size(0);
  const torch::Tensor nhwc = input.permute({0, 2, 3, 1}).contiguous();
  const torch::Tensor r = rois.to(torch::kFloat).contiguous();
  torch::Tensor out = torch::empty({k, pooled_height, pooled_width, channels}, input.options());
  const float* f = nhwc.data_ptr<float>();
  const float* box = r.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const float offset = aligned ? 0.5f : 0.0f, scale = float(spatial_scale);
  at::parallel_for(0, k, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float* b = box + 5 * i;
      const float start_x = b[1] * scale - offset, start_y = b[2] * scale - offset;
      float roi_w = b[3] * scale - offset - start_x, roi_h = b[4] * scale - offset - start_y;
      if (!aligned) roi_w = std::max(roi_w, 1.0f), roi_h = std::max(roi_h, 1.0f);
      const float bin_h = roi_h / float(pooled_height), bin_w = roi_w / float(pooled_width);
      const int64_t grid_h = sampling_ratio > 0 ? sampling_ratio : std::max<int64_t>(int64_t(std::ceil(roi_h / float(pooled_height))), 1);
      const int64_t grid_w = sampling_ratio > 0 ? sampling_ratio : std::max<int64_t>(int64_t(std::ceil(roi_w / float(pooled_width))), 1);
      roi_align_box(f + int64_t(b[0]) * height * width * channels, height, width, channels, start_y, start_x, bin_h,
                    bin_w, pooled_height, pooled_width, grid_h, grid_w, o + i * pooled_height * pooled_width * channels);
    }
  });
  return out.permute({0, 3, 1, 2}).contiguous();
}

}  // namespace

torch::Tensor roi_align(const torch::Tensor& input, const torch::Tensor& rois, double spatial_scale,
                        int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  MUST_CHECK(input.dim() == 4, "roi_align input should be [N, C, H, W], got ", input.sizes());
  MUST_CHECK(rois.dim() == 2 && rois.size(1) == 5, "rois should be a [K, 5] tensor, got ", rois.sizes());
  MUST_CHECK(pooled_height > 0 && pooled_width > 0, "roi_align output size must be positive, got ", pooled_height,
             "x", pooled_width);
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t k = rois.size(0);
  if (k == 0) return torch::zeros({0, channels, pooled_height, pooled_width}, input.options());
  // Inference on the CPU: the direct kernel. With gradients the gather path below, whose ATen ops autograd
  // differentiates (and which runs on any device).
  if (input.is_cpu() && input.scalar_type() == torch::kFloat &&
      !(torch::GradMode::is_enabled() && input.requires_grad())) {
    return roi_align_direct(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned);
  }

  // Sample positions, bilinear weights and sums in box_coordinate_type: float32 for bf16/fp16 features (autocast),
  // which are gathered as they are; the result comes back in their type.
  const torch::Tensor r = rois.detach().to(box_coordinate_type(input.scalar_type()));  // no gradient for the boxes
  const double offset = aligned ? 0.5 : 0.0;
  const torch::Tensor start_x = r.select(1, 1) * spatial_scale - offset;
  const torch::Tensor start_y = r.select(1, 2) * spatial_scale - offset;
  torch::Tensor roi_w = r.select(1, 3) * spatial_scale - offset - start_x;
  torch::Tensor roi_h = r.select(1, 4) * spatial_scale - offset - start_y;
  if (!aligned) {  // legacy: boxes at least one pixel wide
    roi_w = roi_w.clamp_min(1.0);
    roi_h = roi_h.clamp_min(1.0);
  }
  const torch::Tensor bin_w = roi_w / double(pooled_width), bin_h = roi_h / double(pooled_height);
  const torch::Tensor batch = r.select(1, 0).to(torch::kLong);
  // Channels last, flattened: one row of C values per feature pixel, for index_select.
  const torch::Tensor features_flat = input.permute({0, 2, 3, 1}).reshape({-1, channels});

  // Boxes grouped by sampling grid (one group when sampling_ratio > 0), processed in chunks.
  torch::Tensor grid_h, grid_w;
  if (sampling_ratio > 0) {
    grid_h = grid_w = torch::full({k}, sampling_ratio, torch::kLong);  // CPU, like the adaptive case below
  } else {
    grid_h = torch::ceil(roi_h / double(pooled_height)).to(torch::kLong).clamp_min(1).cpu();
    grid_w = torch::ceil(roi_w / double(pooled_width)).to(torch::kLong).clamp_min(1).cpu();
  }
  const torch::Tensor grid_key = grid_h * 1000003 + grid_w;  // on the CPU: one group per distinct grid
  const torch::Tensor keys = std::get<0>(torch::_unique(grid_key));
  std::vector<torch::Tensor> parts, part_indices;
  for (int64_t g = 0; g < keys.size(0); ++g) {
    const int64_t key = keys[g].item<int64_t>();
    const torch::Tensor members = (grid_key == key).nonzero().view({-1}).to(input.device());
    const int64_t gh = key / 1000003, gw = key % 1000003;
    for (int64_t begin = 0; begin < members.size(0); begin += kChunk) {
      const torch::Tensor idx = members.narrow(0, begin, std::min(kChunk, members.size(0) - begin));
      parts.push_back(roi_align_fixed_grid(features_flat, height, width, batch.index_select(0, idx),
                                           start_y.index_select(0, idx), start_x.index_select(0, idx),
                                           bin_h.index_select(0, idx), bin_w.index_select(0, idx), pooled_height,
                                           pooled_width, gh, gw));
      part_indices.push_back(idx);
    }
  }
  // Back into box order (differentiably).
  const torch::Tensor order = torch::cat(part_indices);
  const torch::Tensor pooled = torch::cat(parts).to(input.scalar_type());
  return torch::zeros({k, channels, pooled_height, pooled_width}, input.options()).index_copy(0, order, pooled);
}

torch::Tensor multi_scale_roi_align(const std::vector<torch::Tensor>& features, const std::vector<torch::Tensor>& boxes,
                                    const std::vector<int64_t>& image_size, const MultiScaleRoIAlignOptions& options) {
  MUST_CHECK(!features.empty(), "multi_scale_roi_align needs at least one feature level");
  MUST_CHECK(image_size.size() == 2, "image_size should be {H, W}");
  // Each level's scale: the power of two nearest to feature size / image size (torchvision's infer_scale).
  std::vector<double> scales;
  for (const auto& f : features) {
    const double approx = double(f.size(-2)) / double(image_size[0]);
    scales.push_back(std::pow(2.0, std::round(std::log2(approx))));
  }
  const double k_min = -std::log2(scales.front()), k_max = -std::log2(scales.back());

  std::vector<torch::Tensor> rois;
  for (size_t i = 0; i < boxes.size(); ++i) {
    MUST_CHECK(boxes[i].dim() == 2 && boxes[i].size(1) == 4, "boxes of image ", i, " should be [K, 4], got ",
               boxes[i].sizes());
    rois.push_back(torch::cat({torch::full({boxes[i].size(0), 1}, double(i), boxes[i].options()), boxes[i]}, 1));
  }
  const torch::Tensor all = torch::cat(rois);
  const int64_t channels = features.front().size(1), size = options.output_size;
  if (features.size() == 1) {
    return roi_align(features.front(), all, scales.front(), size, size, options.sampling_ratio, false);
  }
  const torch::Tensor area = (all.select(1, 3) - all.select(1, 1)) * (all.select(1, 4) - all.select(1, 2));
  const torch::Tensor levels =
      (torch::floor(options.canonical_level + torch::log2(area.sqrt() / double(options.canonical_scale)) + 1e-6)
           .clamp(k_min, k_max) -
       k_min)
          .to(torch::kLong);
  torch::Tensor result = torch::zeros({all.size(0), channels, size, size}, features.front().options());
  for (size_t level = 0; level < features.size(); ++level) {
    const torch::Tensor idx = (levels == int64_t(level)).nonzero().view({-1});
    if (idx.size(0) == 0) continue;
    const torch::Tensor pooled = roi_align(features[level], all.index_select(0, idx), scales[level], size, size,
                                           options.sampling_ratio, false);
    result = result.index_copy(0, idx, pooled);
  }
  return result;
}

}  // namespace must::ops
