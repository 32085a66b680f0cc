// The five evaluators behind evaluator_registry().
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "must/core/check.h"
#include "must/eval/coco_detection_metric.h"
#include "must/eval/confusion_matrix.h"
#include "must/eval/evaluator.h"
#include "must/eval/normal_metrics.h"

namespace must::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The label of `task` in `truth`, checked to exist.
const torch::Tensor& label_of(const data::Sample& truth, Task task) {
  const auto found = truth.labels.find(task);
  MUST_CHECK(found != truth.labels.end(), truth.source, ": no ", task_name(task), " label to score against");
  return found->second;
}

// A dense prediction must cover its label pixel for pixel.
void check_same_size(const torch::Tensor& prediction, const torch::Tensor& label, const data::Sample& truth, Task task) {
  MUST_CHECK(prediction.defined() && prediction.dim() >= 2 && prediction.size(-1) == label.size(-1) &&
                 prediction.size(-2) == label.size(-2),
             truth.source, ": ", task_name(task), " prediction ",
             prediction.defined() ? prediction.sizes() : torch::IntArrayRef{}, " does not match its label's size ",
             label.sizes());
}

class ClassificationEvaluator final : public Evaluator {
 public:
  explicit ClassificationEvaluator(const EvaluatorContext&) : Evaluator(Task::kClassification) {}
  void reset() override { images_ = top1_ = top5_ = 0; }
  void process(const ImagePrediction& prediction, const data::Sample& truth, int64_t) override {
    const torch::Tensor label_vector = label_of(truth, Task::kClassification).to(torch::kCPU, torch::kFloat).contiguous();
    const torch::Tensor ranked = prediction.values.to(torch::kCPU, torch::kLong).contiguous();
    MUST_CHECK(ranked.dim() == 1 && ranked.numel() >= 1, truth.source, ": a classification prediction is a list of ",
               "classes, best first; got ", ranked.sizes());
    // The label: the first class of highest probability (a hard label's one-hot, or a soft label's mode).
    const float* p = label_vector.data_ptr<float>();
    int64_t label = 0;
    for (int64_t c = 1; c < label_vector.numel(); ++c) {
      if (p[c] > p[label]) label = c;
    }
    const int64_t* r = ranked.data_ptr<int64_t>();
    ++images_;
    top1_ += r[0] == label;
    for (int64_t i = 0; i < std::min<int64_t>(5, ranked.numel()); ++i) top5_ += r[i] == label;
  }
  MetricValues evaluate() override {
    const double n = double(images_);
    return {{"top1", images_ ? 100.0 * double(top1_) / n : kNaN},
            {"top5", images_ ? 100.0 * double(top5_) / n : kNaN},
            {"images", n}};
  }

 private:
  int64_t images_ = 0, top1_ = 0, top5_ = 0;
};

class DetectionEvaluator final : public Evaluator {
 public:
  explicit DetectionEvaluator(const EvaluatorContext& context)
      : Evaluator(Task::kDetection), classes_(context.class_names), options_(context.options) {
    MUST_CHECK(!classes_.empty(), "detection evaluation needs the dataset's class names");
    reset();
  }
  void reset() override {
    coco_ = std::make_unique<CocoDetectionMetric>(int64_t(classes_.size()));
    voc_ = std::make_unique<VocDetectionMetric>(
        int64_t(classes_.size()), VocApOptions{options_.detection == DetectionMetric::kVoc2007, options_.voc_strict});
    images_ = 0;
    summary_.clear();
  }
  void process(const ImagePrediction& prediction, const data::Sample& truth, int64_t image_id) override {
    MUST_CHECK(truth.instances.has_value(), truth.source, ": no detection label to score against");
    std::vector<GroundTruthBox> boxes = ground_truth_boxes(*truth.instances);
    try {
      if (options_.detection == DetectionMetric::kCoco) {
        coco_->add_image(image_id, std::move(boxes), prediction.detections);
      } else {
        voc_->add_image(std::move(boxes), prediction.detections);
      }
    } catch (const Error& e) {
      MUST_THROW(Error, truth.source, ": ", e.what());
    }
    ++images_;
  }
  MetricValues evaluate() override {
    MetricValues out{{"images", double(images_)}};
    auto percent = [](double v) { return v < 0 ? kNaN : 100.0 * v; };  // -1: nothing to average
    if (options_.detection == DetectionMetric::kCoco) {
      const CocoSummary summary = coco_->summarize();
      for (size_t i = 0; i < summary.stats.size(); ++i) out[std::string(CocoSummary::names()[i])] = percent(summary.stats[i]);
      for (size_t k = 0; k < classes_.size(); ++k) out["AP/" + classes_[k]] = percent(summary.category_ap[k]);
      summary_ = summary.text();
      return out;
    }
    // detectron2's PascalVOCDetectionEvaluator: AP is the mean of the VOC mAP at IoU 0.50, 0.55, ..., 0.95.
    double sum = 0;
    for (int percent_iou = 50; percent_iou < 100; percent_iou += 5) {
      const std::vector<double> ap = voc_->average_precision(percent_iou / 100.0);
      const double map = mean_of_defined(ap);
      sum += map;
      if (percent_iou == 50) {
        out["AP50"] = 100 * map;
        for (size_t k = 0; k < classes_.size(); ++k) out["AP50/" + classes_[k]] = percent(ap[k]);
      }
      if (percent_iou == 75) out["AP75"] = 100 * map;
    }
    out["AP"] = 100 * sum / 10;
    return out;
  }
  std::string summary() const override { return summary_; }

 private:
  std::vector<std::string> classes_;
  EvaluatorOptions options_;
  std::unique_ptr<CocoDetectionMetric> coco_;
  std::unique_ptr<VocDetectionMetric> voc_;
  int64_t images_ = 0;
  std::string summary_;
};

class SegmentationEvaluator final : public Evaluator {
 public:
  explicit SegmentationEvaluator(const EvaluatorContext& context)
      : Evaluator(Task::kSegmentation),
        classes_(context.class_names),
        matrix_(int64_t(classes_.size()), int64_t(task_spec(Task::kSegmentation).ignore_value)) {}
  void reset() override {
    matrix_.reset();
    images_ = 0;
  }
  void process(const ImagePrediction& prediction, const data::Sample& truth, int64_t) override {
    const torch::Tensor& label = label_of(truth, Task::kSegmentation);
    check_same_size(prediction.values, label, truth, task());
    try {
      matrix_.add(label, prediction.values.reshape(label.sizes()));
    } catch (const Error& e) {
      MUST_THROW(Error, truth.source, ": ", e.what());
    }
    ++images_;
  }
  MetricValues evaluate() override {
    MetricValues out{{"mIoU", 100 * matrix_.mean_iou()},
                     {"pixel_accuracy", 100 * matrix_.pixel_accuracy()},
                     {"images", double(images_)}};
    const std::vector<double> iou = matrix_.iou();
    for (size_t k = 0; k < classes_.size(); ++k) out["IoU/" + classes_[k]] = 100 * iou[k];
    return out;
  }

 private:
  std::vector<std::string> classes_;
  ConfusionMatrix matrix_;
  int64_t images_ = 0;
};

// Depth and normals: a per-pixel metric of the label and the prediction, pooled or per image as Metrics does it.
template <class Metrics>
class MapEvaluator final : public Evaluator {
 public:
  MapEvaluator(Task task, Metrics metrics) : Evaluator(task), metrics_(std::move(metrics)) {}
  void reset() override {
    metrics_.reset();
    images_ = 0;
  }
  void process(const ImagePrediction& prediction, const data::Sample& truth, int64_t) override {
    const torch::Tensor& label = label_of(truth, task());
    check_same_size(prediction.values, label, truth, task());
    metrics_.add(label, prediction.values);
    ++images_;
  }
  MetricValues evaluate() override {
    MetricValues out = metrics_.values();
    out["images"] = double(images_);
    return out;
  }

 private:
  Metrics metrics_;
  int64_t images_ = 0;
};

template <class T>
EvaluatorRegistry::Factory factory() {
  return [](const EvaluatorContext& context) -> std::unique_ptr<Evaluator> { return std::make_unique<T>(context); };
}

}  // namespace

EvaluatorRegistry& evaluator_registry() {
  static EvaluatorRegistry* registry = [] {
    auto* r = new EvaluatorRegistry("evaluator");
    r->add("classification", factory<ClassificationEvaluator>());
    r->add("detection", factory<DetectionEvaluator>());
    r->add("segmentation", factory<SegmentationEvaluator>());
    r->add("depth", [](const EvaluatorContext& context) -> std::unique_ptr<Evaluator> {
      return std::make_unique<MapEvaluator<DepthMetrics>>(Task::kDepth, DepthMetrics(context.options.depth));
    });
    r->add("normals", [](const EvaluatorContext&) -> std::unique_ptr<Evaluator> {
      return std::make_unique<MapEvaluator<NormalMetrics>>(Task::kNormals, NormalMetrics());
    });
    return r;
  }();
  return *registry;
}

std::unique_ptr<Evaluator> make_evaluator(Task task, const EvaluatorContext& context) {
  std::unique_ptr<Evaluator> evaluator = evaluator_registry().create(std::string(task_name(task)), context);
  evaluator->reset();
  return evaluator;
}

}  // namespace must::eval
