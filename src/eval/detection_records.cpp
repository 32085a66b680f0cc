#include "must/eval/detection_records.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "must/core/check.h"

namespace must::eval {
namespace {

// x1 y1 x2 y2 floats -> x y w h doubles. The width is the difference of the two doubles, so a box written to a
// results JSON as (x, w) reads back to the same float corners.
BoxXywh xywh_of(const float* corners) {
  const double x1 = corners[0], y1 = corners[1], x2 = corners[2], y2 = corners[3];
  return {x1, y1, x2 - x1, y2 - y1};
}

torch::Tensor boxes_of(const structures::Instances& instances) {
  if (instances.size() == 0) return torch::zeros({0, 4});
  MUST_CHECK(instances.boxes.dim() == 2 && instances.boxes.size(1) == 4, "boxes should be [N, 4], got ",
             instances.boxes.sizes());
  return instances.boxes.to(torch::kCPU, torch::kFloat).contiguous();
}

}  // namespace

std::vector<GroundTruthBox> ground_truth_boxes(const structures::Instances& truth) {
  const torch::Tensor boxes = boxes_of(truth);
  const int64_t n = boxes.size(0);
  const torch::Tensor labels = n ? truth.labels.to(torch::kCPU, torch::kLong).contiguous() : torch::Tensor();
  const torch::Tensor ignore =
      n && truth.ignore.defined() ? truth.ignore.to(torch::kCPU, torch::kBool).contiguous() : torch::Tensor();
  const torch::Tensor areas =
      n && truth.areas.defined() ? truth.areas.to(torch::kCPU, torch::kDouble).contiguous() : torch::Tensor();
  std::vector<GroundTruthBox> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    GroundTruthBox& box = out[size_t(i)];
    box.category = labels.data_ptr<int64_t>()[i];
    box.box = xywh_of(boxes.data_ptr<float>() + 4 * i);
    box.area = areas.defined() ? areas.data_ptr<double>()[i] : box.box.w * box.box.h;
    box.ignore = ignore.defined() && ignore.data_ptr<bool>()[i];
  }
  return out;
}

std::vector<DetectedBox> detected_boxes(const structures::Instances& detections) {
  const torch::Tensor boxes = boxes_of(detections);
  const int64_t n = boxes.size(0);
  if (n == 0) return {};
  MUST_CHECK(detections.scores.defined() && detections.scores.numel() == n, "detections need one score per box");
  const torch::Tensor labels = detections.labels.to(torch::kCPU, torch::kLong).contiguous();
  const torch::Tensor scores = detections.scores.to(torch::kCPU, torch::kDouble).contiguous();
  std::vector<DetectedBox> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out[size_t(i)] = {labels.data_ptr<int64_t>()[i], xywh_of(boxes.data_ptr<float>() + 4 * i),
                      scores.data_ptr<double>()[i]};
  }
  return out;
}

double box_iou(const BoxXywh& d, const BoxXywh& g, bool crowd) {
  // The operations of maskApi.c's bbIou, in its order, so the values are the same doubles.
  const double w = std::fmin(d.w + d.x, g.w + g.x) - std::fmax(d.x, g.x);
  if (w <= 0) return 0;
  const double h = std::fmin(d.h + d.y, g.h + g.y) - std::fmax(d.y, g.y);
  if (h <= 0) return 0;
  const double intersection = w * h;
  const double detection_area = d.w * d.h;
  const double union_area = crowd ? detection_area : detection_area + g.w * g.h - intersection;
  return intersection / union_area;
}

}  // namespace must::eval
