// The object instances of one image: detection targets and detections alike (detectron2's Instances, reduced
// to the fields the detector uses). Boxes are (x1, y1, x2, y2) in input pixels, continuous coordinates
// (a box covering pixel columns 0..9 has x1 = 0, x2 = 10). Labels are 0-based class indices (no background
// class at this level; the detector adds its own).
#pragma once

#include <torch/types.h>

#include <utility>

namespace must::structures {

struct Instances {
  torch::Tensor boxes;   // [N, 4] float
  torch::Tensor labels;  // [N] int64, 0..classes-1
  torch::Tensor scores;  // [N] float: detections' confidences; undefined for ground truth
  torch::Tensor ignore;  // [N] bool: crowd / difficult / ignore regions (never positives or negatives); may be undefined
  torch::Tensor areas;   // [N] double: ground truth's annotated area (COCO: the mask's), which COCO AP's area
                         // ranges use; may be undefined (then the box's area)

  int64_t size() const { return boxes.defined() ? boxes.size(0) : 0; }
  // A copy whose defined fields are fn(field).
  template <class Fn>
  Instances map(const Fn& fn) const {
    Instances out;
    for (auto [from, into] : {std::pair{&boxes, &out.boxes}, {&labels, &out.labels}, {&scores, &out.scores},
                              {&ignore, &out.ignore}, {&areas, &out.areas}}) {
      if (from->defined()) *into = fn(*from);
    }
    return out;
  }
  // A copy whose defined fields live on `device` (non_blocking: from pinned memory, see Targets::pinned).
  Instances to(const torch::Device& device, bool non_blocking = false) const {
    return map([&](const torch::Tensor& t) { return t.to(device, non_blocking); });
  }
};

}  // namespace must::structures
