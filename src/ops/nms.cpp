#include "must/ops/nms.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "must/core/check.h"
#include "must/ops/boxes.h"

namespace must::ops {
namespace {

// torchvision's CPU kernel (nms_kernel.cpp): for each box still standing, in score order, the IoU with each later
// one still standing, in the boxes' own type. Work grows with boxes x kept boxes, not boxes squared: the RPN's
// ~3,000 proposals per image at 224 x 224 would otherwise build a 9-million-entry IoU matrix.
template <typename T>
std::vector<int64_t> greedy_nms_cpu(const torch::Tensor& sorted_boxes, double iou_threshold) {
  const int64_t n = sorted_boxes.size(0);
  const T* b = sorted_boxes.data_ptr<T>();
  std::vector<T> area(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) area[size_t(i)] = (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]);
  std::vector<uint8_t> suppressed(size_t(n), 0);
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < n; ++i) {
    if (suppressed[size_t(i)]) continue;
    kept.push_back(i);
    const T x1 = b[4 * i], y1 = b[4 * i + 1], x2 = b[4 * i + 2], y2 = b[4 * i + 3], area_i = area[size_t(i)];
    for (int64_t j = i + 1; j < n; ++j) {
      if (suppressed[size_t(j)]) continue;
      const T w = std::max(T(0), std::min(x2, b[4 * j + 2]) - std::max(x1, b[4 * j]));
      const T h = std::max(T(0), std::min(y2, b[4 * j + 3]) - std::max(y1, b[4 * j + 1]));
      const T inter = w * h;
      if (inter / (area_i + area[size_t(j)] - inter) > iou_threshold) suppressed[size_t(j)] = 1;
    }
  }
  return kept;
}

// The overlap-matrix algorithm (a GPU's): which pairs overlap more than the threshold, all at once on the boxes'
// device, packed there 8 columns to a byte (column j is bit j % 8 of byte j / 8), so that n^2 / 8 bytes cross to
// the host rather than n^2 (6 MB, not 49, for the RPN's ~7,000 proposals of a 512 x 512 image); then one greedy pass
// on the host, OR-ing each kept box's row into the set of removed ones.
std::vector<int64_t> greedy_nms_over_overlap_bits(const torch::Tensor& sorted_boxes, double iou_threshold) {
  const int64_t n = sorted_boxes.size(0), bytes = (n + 7) / 8;
  // A tensor compares with a scalar in its own type: float IoUs against the threshold rounded down to a float, so
  // that they decide as the CPU kernel's comparison in double does (an IoU of exactly 0.3f is above 0.3).
  double threshold = iou_threshold;
  if (sorted_boxes.scalar_type() == torch::kFloat) {
    float rounded = float(iou_threshold);
    if (double(rounded) > iou_threshold) rounded = std::nextafter(rounded, -std::numeric_limits<float>::infinity());
    threshold = rounded;
  }
  const torch::Tensor overlaps =
      torch::constant_pad_nd((box_iou(sorted_boxes, sorted_boxes) > threshold).to(torch::kUInt8), {0, bytes * 8 - n});
  const torch::Tensor bit_values =
      torch::tensor({1, 2, 4, 8, 16, 32, 64, 128}, torch::TensorOptions().dtype(torch::kUInt8).device(overlaps.device()));
  const torch::Tensor packed =
      (overlaps.view({n, bytes, 8}) * bit_values).sum(-1, /*keepdim=*/false, torch::kUInt8).to(torch::kCPU).contiguous();
  const uint8_t* rows = packed.data_ptr<uint8_t>();
  std::vector<uint8_t> removed(size_t(bytes), 0);
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < n; ++i) {
    if ((removed[size_t(i / 8)] >> (i % 8)) & 1) continue;
    kept.push_back(i);
    const uint8_t* row = rows + i * bytes;
    for (int64_t b = i / 8; b < bytes; ++b) removed[size_t(b)] |= row[b];  // bits of boxes before i: decided already
  }
  return kept;
}

torch::Tensor nms_with(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold,
                       bool overlap_bits) {
  MUST_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "boxes should be an [N, 4] tensor, got ", boxes.sizes());
  MUST_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), "scores should be [", boxes.size(0), "], got ",
             scores.sizes());
  if (boxes.size(0) == 0) return torch::empty({0}, boxes.options().dtype(torch::kLong));
  const torch::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const torch::Tensor sorted = boxes.index_select(0, order);
  std::vector<int64_t> kept;
  if (overlap_bits) {
    kept = greedy_nms_over_overlap_bits(sorted, iou_threshold);
  } else {
    AT_DISPATCH_FLOATING_TYPES(sorted.scalar_type(), "nms", [&] {
      kept = greedy_nms_cpu<scalar_t>(sorted.contiguous(), iou_threshold);
    });
  }
  return order.index_select(0, torch::tensor(kept, torch::kLong).to(order.device()));
}

}  // namespace

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  return nms_with(boxes, scores, iou_threshold, /*overlap_bits=*/!boxes.is_cpu());
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                          double iou_threshold) {
  MUST_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0), "idxs should be [", boxes.size(0), "], got ",
             idxs.sizes());
  if (boxes.size(0) == 0) return torch::empty({0}, boxes.options().dtype(torch::kLong));
  // Many boxes on a GPU: one NMS per class, as torchvision does above 5,000 boxes there, so that the overlap
  // matrices hold pairs of one class only (the RPN's five levels: about a quarter of all pairs).
  if (!boxes.is_cpu() && boxes.size(0) > 5000) return detail::batched_nms_per_class(boxes, scores, idxs, iou_threshold);
  // torchvision's trick: shift each class's boxes far apart so they never overlap.
  const torch::Tensor offsets = idxs.to(boxes.scalar_type()) * (boxes.max() + 1);
  return nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

namespace detail {

torch::Tensor nms_over_overlap_bits(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  return nms_with(boxes, scores, iou_threshold, /*overlap_bits=*/true);
}

torch::Tensor batched_nms_per_class(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                                    double iou_threshold) {
  const torch::Tensor classes = std::get<0>(torch::_unique(idxs.to(torch::kCPU)));
  torch::Tensor keep = torch::zeros({boxes.size(0)}, idxs.options().dtype(torch::kBool));
  for (int64_t c = 0; c < classes.size(0); ++c) {
    const torch::Tensor members = (idxs == classes[c].item<int64_t>()).nonzero().view({-1});
    const torch::Tensor kept = nms(boxes.index_select(0, members), scores.index_select(0, members), iou_threshold);
    keep.index_fill_(0, members.index_select(0, kept), true);
  }
  // Highest score first, ties by index (a stable sort): the order of one NMS over the shifted boxes.
  const torch::Tensor kept = keep.nonzero().view({-1});
  return kept.index_select(0, std::get<1>(scores.index_select(0, kept).sort(/*stable=*/true, 0, /*descending=*/true)));
}

}  // namespace detail
}  // namespace must::ops
