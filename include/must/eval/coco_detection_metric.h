// COCO box AP, as pycocotools' COCOeval(gt, dt, "bbox") computes it (cocoeval.py evaluate / accumulate /
// summarize; IoU from maskApi.c bbIou), number for number:
//   - IoU thresholds 0.50:0.05:0.95 and recall thresholds 0:0.01:1 with numpy.linspace's exact values; maxDets
//     1, 10, 100; area ranges all [0, 1e10], small [0, 32^2], medium [32^2, 96^2], large [96^2, 1e10], bounds
//     inclusive, applied to the annotation's area (not the box's);
//   - per image and category: detections sorted by score (stable), the first 100 kept; each in turn takes the
//     unmatched ground truth of highest IoU >= min(t, 1 - 1e-10), non-ignored ones first; a crowd box is matched
//     by intersection over the detection's area, may be matched again, and is ignored (neither hit nor miss),
//     as is ground truth outside the area range; a detection matched to an ignored box, or unmatched and outside
//     the area range, is ignored;
//   - per category, area range and maxDets: all images' detections sorted by score (stable, images in id order),
//     precision made non-increasing from the right and read at each recall threshold (searchsorted, left);
//     a category without non-ignored ground truth gets -1 and is left out of the means.
// Known differences, fed through the readers: pycocotools treats a matched ground truth whose annotation id is 0 as
// unmatched (here a match is a match); the COCO reader drops zero-width or zero-height annotations (as training
// wants), which pycocotools would count as ground truth no detection can match; and ground-truth corners pass
// through float32 (Instances), so an IoU within float rounding of a threshold may fall the other way. Results
// files are read in double, as pycocotools reads them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "must/eval/detection_records.h"

namespace must::eval {

struct CocoSummary {
  // COCOeval.stats, in its order and units (0..1; -1 = nothing to average, e.g. no large objects).
  std::array<double, 12> stats{};
  // AP@[.50:.95] (maxDets 100, all areas) of each class; -1 for a class without ground truth.
  std::vector<double> category_ap;

  // "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl" (detectron2's names).
  static const std::array<std::string_view, 12>& names();
  // The 12 lines COCOeval.summarize() prints, in its format.
  std::string text() const;
};

class CocoDetectionMetric {
 public:
  explicit CocoDetectionMetric(int64_t num_categories);
  // One image's ground truth and detections, categories in [0, num_categories). Image ids order the images as
  // pycocotools does (sorted), which decides ties between equal scores of different images; an id may be given
  // once. Throws must::Error naming the image on a bad category or a non-finite score.
  void add_image(int64_t image_id, std::vector<GroundTruthBox> truth, std::vector<DetectedBox> detections);
  CocoSummary summarize() const;
  void reset() { images_.clear(); }
  int64_t num_images() const { return int64_t(images_.size()); }

  // One image added: its ground truth and detections.
  struct Image {
    int64_t id;
    std::vector<GroundTruthBox> truth;
    std::vector<DetectedBox> detections;
  };

 private:
  int64_t num_categories_;
  std::vector<Image> images_;
};

}  // namespace must::eval
