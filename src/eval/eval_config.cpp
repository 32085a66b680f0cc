#include "must/eval/eval_config.h"

#include "must/core/check.h"

namespace must::eval {

std::string_view evaluation_defaults() {
  return R"yaml(
evaluation:
  name: ""                    # the dataset's name in metric keys ("" = <format>_<split>, e.g. world_val)
  tasks: []                   # tasks to score ([] = every task both the model and the dataset have)
  flip: false                 # horizontal test-time flip, averaged (dense tasks and classification)
  progress_seconds: 10        # a progress line with the ETA this often (0 = none)
  detection:
    metric: coco              # coco (COCOeval's 12 numbers), voc2007 (11-point AP), voc2010 (area under the curve)
    voc_strict: false         # VOC: a hit needs IoU > 0.5 (py-faster-rcnn, detectron2) instead of >= (the devkit)
  depth:
    min_depth: 0.001          # metres: ground truth kept in (min, max); predictions clamped to [min, max] (BTS)
    max_depth: 10.0
    crop: none                # none, eigen (NYU's Eigen crop, rows 45..470 and columns 41..600 of 480 x 640)
    median_scaling: false     # scale each prediction by median(truth) / median(prediction) first (Monodepth)
    averaging: image          # image: per-image metrics, then their mean (BTS); pixel: pooled over the split
    units_per_metre: 1000.0   # precision of depth predictions, scored and saved (1000 = millimetres)
)yaml";
}

EvaluationOptions evaluation_options_from_config(const config::Config& node, const data::DatasetOptions& dataset) {
  EvaluationOptions options;
  options.dataset_name = node.get_string("name");
  if (options.dataset_name.empty()) {
    options.dataset_name = dataset.format + (dataset.split.empty() ? "" : "_" + dataset.split);
    for (char& c : options.dataset_name) {
      if (c == '/' || c == ' ') c = '_';
    }
  }
  if (options.dataset_name.find('/') != std::string::npos) node.fail("name", "must not contain '/' (it starts metric keys)");
  options.tasks = node.get_task_list("tasks");
  options.flip = node.get_bool("flip");
  options.progress_seconds = node.get_non_negative_float("progress_seconds");

  const config::Config detection = node.at("detection");
  const std::string metric = detection.get_string("metric");
  if (metric == "coco") {
    options.evaluator.detection = DetectionMetric::kCoco;
  } else if (metric == "voc2007") {
    options.evaluator.detection = DetectionMetric::kVoc2007;
  } else if (metric == "voc2010") {
    options.evaluator.detection = DetectionMetric::kVoc2010;
  } else {
    detection.fail("metric", "must be coco, voc2007 or voc2010");
  }
  options.evaluator.voc_strict = detection.get_bool("voc_strict");

  const config::Config depth = node.at("depth");
  DepthMetricOptions& d = options.evaluator.depth;
  d.min_depth = depth.get_non_negative_float("min_depth");
  d.max_depth = depth.get_float("max_depth");
  if (d.max_depth <= d.min_depth) depth.fail("max_depth", "must be above min_depth");
  const std::string crop = depth.get_string("crop");
  if (crop == "none") {
    d.crop = DepthCrop::kNone;
  } else if (crop == "eigen") {
    d.crop = DepthCrop::kEigen;
  } else {
    depth.fail("crop", "must be none or eigen");
  }
  d.median_scaling = depth.get_bool("median_scaling");
  const std::string averaging = depth.get_string("averaging");
  if (averaging != "image" && averaging != "pixel") depth.fail("averaging", "must be image or pixel");
  d.per_image = averaging == "image";
  options.encoding.depth_units_per_metre = depth.get_positive_float("units_per_metre");
  if (d.max_depth * options.encoding.depth_units_per_metre > 65535) {
    depth.fail("units_per_metre", "x max_depth exceeds the 16-bit range (65535) depth predictions are stored in; "
                                  "lower units_per_metre");
  }
  return options;
}

}  // namespace must::eval
