#include "must/ops/nms.h"

#include <torch/torch.h>

#include <algorithm>
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

}  // namespace

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  MUST_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "boxes should be an [N, 4] tensor, got ", boxes.sizes());
  MUST_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), "scores should be [", boxes.size(0), "], got ",
             scores.sizes());
  if (boxes.size(0) == 0) return torch::empty({0}, boxes.options().dtype(torch::kLong));
  const torch::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const torch::Tensor sorted = boxes.index_select(0, order);
  if (boxes.is_cpu()) {
    std::vector<int64_t> kept;
    AT_DISPATCH_FLOATING_TYPES(sorted.scalar_type(), "nms", [&] {
      kept = greedy_nms_cpu<scalar_t>(sorted.contiguous(), iou_threshold);
    });
    return order.index_select(0, torch::tensor(kept, torch::kLong));
  }
  // On a GPU: which pairs overlap too much, on the device at once; then one greedy pass on the host.
  const torch::Tensor overlaps = (box_iou(sorted, sorted) > iou_threshold).to(torch::kCPU).contiguous();
  const int64_t n = sorted.size(0);
  const auto* overlap = overlaps.data_ptr<bool>();
  std::vector<uint8_t> suppressed(size_t(n), 0);
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < n; ++i) {
    if (suppressed[size_t(i)]) continue;
    kept.push_back(i);
    const bool* row = overlap + i * n;
    for (int64_t j = i + 1; j < n; ++j) suppressed[size_t(j)] |= row[j];
  }
  const torch::Tensor kept_sorted = torch::tensor(kept, torch::kLong).to(boxes.device());
  return order.index_select(0, kept_sorted);
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& idxs,
                          double iou_threshold) {
  MUST_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0), "idxs should be [", boxes.size(0), "], got ",
             idxs.sizes());
  if (boxes.size(0) == 0) return torch::empty({0}, boxes.options().dtype(torch::kLong));
  // torchvision's trick: shift each class's boxes far apart so they never overlap.
  const torch::Tensor offsets = idxs.to(boxes.scalar_type()) * (boxes.max() + 1);
  return nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

}  // namespace must::ops
