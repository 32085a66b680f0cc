#include "must/ops/nms.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/ops/boxes.h"

namespace must::ops {

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  MUST_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "boxes should be an [N, 4] tensor, got ", boxes.sizes());
  MUST_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), "scores should be [", boxes.size(0), "], got ",
             scores.sizes());
  if (boxes.size(0) == 0) return torch::empty({0}, boxes.options().dtype(torch::kLong));
  const torch::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const torch::Tensor sorted = boxes.index_select(0, order);
  // Which pairs overlap too much, on the boxes' device; then one greedy pass on the host.
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
