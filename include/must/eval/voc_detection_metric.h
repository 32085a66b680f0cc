// PASCAL VOC detection AP (the devkit's VOCevaldet.m; its Python port voc_eval.py in py-faster-rcnn and
// detectron2), per class:
//   - npos = the class's ground truth that is not `difficult`;
//   - the class's detections over all images, sorted by score (stable: ties keep the order they were added);
//     each takes the box of its image with the highest IoU; at IoU >= threshold (the devkit; `strict`: >, as
//     py-faster-rcnn and detectron2) a difficult box makes it neither hit nor miss, a box already taken makes it
//     a false positive (duplicate), else it is a hit; below the threshold, a false positive;
//   - precision/recall cumulated; AP is 11-point interpolated (VOC2007: mean over recall 0, 0.1, ... 1 of the
//     highest precision at recall >= r, thresholds as numpy.arange gives them) or the area under the
//     precision envelope (VOC2010+).
// Boxes are continuous pixel-edge coordinates, so IoU has no "+1": on the devkit's 1-based inclusive corners
// (the readers' x1 - 1, y1 - 1, x2, y2), its "+1" areas and intersections are exactly these.
// A class without non-difficult ground truth gets -1 and is left out of the mean (the devkit would divide by 0).
#pragma once

#include <cstdint>
#include <vector>

#include "must/eval/detection_records.h"

namespace must::eval {

struct VocApOptions {
  bool eleven_point = true;  // VOC2007's 11-point AP; false: the area under the envelope (VOC2010+)
  bool strict = false;       // a hit needs IoU > threshold instead of >=
};

class VocDetectionMetric {
 public:
  VocDetectionMetric(int64_t num_categories, VocApOptions options);
  // `ignore` on ground truth means difficult. Throws must::Error on a category outside [0, num_categories).
  void add_image(std::vector<GroundTruthBox> truth, std::vector<DetectedBox> detections);
  // AP of each class at `iou_threshold`, in 0..1; -1 for a class without non-difficult ground truth.
  std::vector<double> average_precision(double iou_threshold) const;
  void reset() { images_.clear(); }

 private:
  struct Image {
    std::vector<GroundTruthBox> truth;
    std::vector<DetectedBox> detections;
  };
  int64_t num_categories_;
  VocApOptions options_;
  std::vector<Image> images_;
};

// The mean of the values that are not -1 (NaN when there is none).
double mean_of_defined(const std::vector<double>& values);

}  // namespace must::eval
