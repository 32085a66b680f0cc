// Evaluators (detectron2's DatasetEvaluator: reset / process / evaluate), one per task, registered by task
// name. Each is fed one image at a time: the prediction already in the coordinates of the image's own labels
// (prediction_mapping.h maps a model's output there; prediction_files.h reads saved ones), and the labels as
// the dataset gave them. evaluate() scores the whole split.
//
// Metric names and units (the keys of metrics.json are `<dataset>/<task>/<name>`):
//   classification  top1, top5                                   percent (torchvision's accuracy())
//   detection       COCO: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, AP/<class>
//                   VOC:  AP (mean over IoU 0.50:0.05:0.95, as detectron2), AP50, AP75, AP50/<class>
//                   percent: COCOeval.stats x 100, as detectron2 reports them; -1 there is NaN here
//   segmentation    mIoU, pixel_accuracy, IoU/<class>               percent
//   depth           AbsRel, SqRel, RMSE, RMSE_log, log10 (metres, ratios); delta1..3 percent
//   normals         mean_angle, median_angle, rmse_angle (degrees); within_11.25, within_22.5, within_30 percent
// and `images`: how many images were scored. NaN marks a value with nothing to average (written as null).
#pragma once

#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "must/core/registry.h"
#include "must/core/task.h"
#include "must/data/dataset.h"
#include "must/eval/depth_metrics.h"
#include "must/eval/detection_records.h"
#include "must/eval/voc_detection_metric.h"

namespace must::eval {

using MetricValues = std::map<std::string, double>;

// One image's prediction for one task, in the pixel and box coordinates of its labels.
struct ImagePrediction {
  // classification: int64 [k] classes, best first (k = min(5, classes));
  // segmentation: int64 [H, W] classes; depth: float [1, H, W] metres; normals: float [3, H, W]
  torch::Tensor values;
  torch::Tensor scores;                 // classification: the ranked classes' probabilities (for people; not scored)
  std::vector<DetectedBox> detections;  // detection
};

enum class DetectionMetric {
  kCoco,     // COCOeval's 12 numbers
  kVoc2007,  // VOC AP, 11-point
  kVoc2010,  // VOC AP, area under the envelope
};

struct EvaluatorOptions {
  DetectionMetric detection = DetectionMetric::kCoco;
  bool voc_strict = false;        // VOC: IoU > threshold (py-faster-rcnn, detectron2) instead of >= (devkit)
  DepthMetricOptions depth;
};

// What an evaluator is built from.
struct EvaluatorContext {
  std::vector<std::string> class_names;  // its task's classes (classification, detection, segmentation)
  EvaluatorOptions options;
};

class Evaluator {
 public:
  explicit Evaluator(Task task) : task_(task) {}
  virtual ~Evaluator() = default;
  Task task() const { return task_; }

  virtual void reset() = 0;
  // `truth`: the image's labels as read (it carries the task's label). `image_id`: the dataset's id of the image
  // (COCO orders images by it). Throws must::Error naming the image on a malformed prediction or label.
  virtual void process(const ImagePrediction& prediction, const data::Sample& truth, int64_t image_id) = 0;
  virtual MetricValues evaluate() = 0;
  // Extra lines for people (COCO: what COCOeval.summarize() prints); empty by default. After evaluate().
  virtual std::string summary() const { return {}; }

 private:
  Task task_;
};

// Evaluators by task name: classification, detection, segmentation, depth, normals.
using EvaluatorRegistry = Registry<std::unique_ptr<Evaluator>, const EvaluatorContext&>;
EvaluatorRegistry& evaluator_registry();
std::unique_ptr<Evaluator> make_evaluator(Task task, const EvaluatorContext& context);

}  // namespace must::eval
