// Boxes as the detection metrics read them: (x, y, width, height) in double precision, in the pixel coordinates
// of the image as read, as COCO's JSON files and pycocotools hold them. Results files are read into these
// directly, so scoring a saved COCO results JSON uses exactly the numbers it holds.
#pragma once

#include <cstdint>
#include <vector>

#include "must/structures/instances.h"

namespace must::eval {

struct BoxXywh {
  double x = 0, y = 0, w = 0, h = 0;
};

struct GroundTruthBox {
  int64_t category = 0;  // 0-based class
  BoxXywh box;
  double area = 0;       // the annotation's area (COCO: the mask's); COCO AP's area ranges read it
  bool ignore = false;   // COCO iscrowd / VOC difficult: neither a hit nor a miss
};

struct DetectedBox {
  int64_t category = 0;  // 0-based class
  BoxXywh box;
  double score = 0;
};

// Ground truth (boxes x1 y1 x2 y2, labels, ignore flags, areas: absent areas are the boxes' own).
std::vector<GroundTruthBox> ground_truth_boxes(const structures::Instances& truth);
// Detections (boxes, labels, scores), in their order.
std::vector<DetectedBox> detected_boxes(const structures::Instances& detections);

// Intersection over union of two boxes in continuous coordinates (no "+1"); with `crowd`, over the detection's
// area instead (pycocotools' bbIou). 0 when they do not overlap.
double box_iou(const BoxXywh& detection, const BoxXywh& truth, bool crowd = false);

}  // namespace must::eval
