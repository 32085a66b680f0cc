#include "must/eval/voc_detection_metric.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "must/core/check.h"

namespace must::eval {
namespace {

// AP from cumulated precision / recall (voc_ap in py-faster-rcnn / detectron2).
double voc_ap(const std::vector<double>& recall, const std::vector<double>& precision, bool eleven_point) {
  if (eleven_point) {
    double ap = 0;
    for (int i = 0; i <= 10; ++i) {
      const double threshold = double(i) * 0.1;  // numpy.arange(0., 1.1, 0.1): 0.30000000000000004, ...
      double best = 0;
      for (size_t j = 0; j < recall.size(); ++j) {
        if (recall[j] >= threshold) best = std::max(best, precision[j]);
      }
      ap = ap + best / 11.0;
    }
    return ap;
  }
  std::vector<double> r = {0.0}, p = {0.0};
  r.insert(r.end(), recall.begin(), recall.end());
  p.insert(p.end(), precision.begin(), precision.end());
  r.push_back(1.0), p.push_back(0.0);
  for (size_t i = p.size() - 1; i > 0; --i) p[i - 1] = std::max(p[i - 1], p[i]);
  double ap = 0;
  for (size_t i = 0; i + 1 < r.size(); ++i) {
    if (r[i + 1] != r[i]) ap += (r[i + 1] - r[i]) * p[i + 1];
  }
  return ap;
}

}  // namespace

VocDetectionMetric::VocDetectionMetric(int64_t num_categories, VocApOptions options)
    : num_categories_(num_categories), options_(options) {
  MUST_CHECK(num_categories >= 1, "VOC AP needs at least one category, got ", num_categories);
}

void VocDetectionMetric::add_image(std::vector<GroundTruthBox> truth, std::vector<DetectedBox> detections) {
  for (const auto& box : truth) {
    MUST_CHECK(box.category >= 0 && box.category < num_categories_, "image ", images_.size(), ": ground-truth class ",
               box.category, " outside [0, ", num_categories_, ")");
  }
  for (const auto& box : detections) {
    MUST_CHECK(box.category >= 0 && box.category < num_categories_, "image ", images_.size(), ": detected class ",
               box.category, " outside [0, ", num_categories_, ")");
    MUST_CHECK(std::isfinite(box.score), "image ", images_.size(), ": detection score ", box.score, " is not finite");
  }
  images_.push_back({std::move(truth), std::move(detections)});
}

std::vector<double> VocDetectionMetric::average_precision(double iou_threshold) const {
  struct Candidate {
    double score;
    size_t image;
    const DetectedBox* box;
  };
  std::vector<double> ap(size_t(num_categories_), -1.0);
  for (int64_t k = 0; k < num_categories_; ++k) {
    int64_t positives = 0;
    std::vector<std::vector<const GroundTruthBox*>> truth(images_.size());
    std::vector<Candidate> candidates;
    for (size_t i = 0; i < images_.size(); ++i) {
      for (const auto& box : images_[i].truth) {
        if (box.category != k) continue;
        truth[i].push_back(&box);
        positives += !box.ignore;
      }
      for (const auto& box : images_[i].detections) {
        if (box.category == k) candidates.push_back({box.score, i, &box});
      }
    }
    if (positives == 0) continue;
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
    std::vector<std::vector<char>> taken(images_.size());
    for (size_t i = 0; i < images_.size(); ++i) taken[i].assign(truth[i].size(), 0);
    std::vector<double> recall, precision;
    double tp = 0, fp = 0;
    for (const Candidate& c : candidates) {
      double best = -std::numeric_limits<double>::infinity();
      size_t best_index = 0;
      for (size_t g = 0; g < truth[c.image].size(); ++g) {  // the first of equal maxima, as numpy.argmax
        const double iou = box_iou(c.box->box, truth[c.image][g]->box);
        if (iou > best) best = iou, best_index = g;
      }
      const bool hit = options_.strict ? best > iou_threshold : best >= iou_threshold;
      if (hit && truth[c.image][best_index]->ignore) {
        // difficult: neither hit nor miss (the point repeats the previous one, as in voc_eval.py)
      } else if (hit && !taken[c.image][best_index]) {
        taken[c.image][best_index] = 1;
        tp += 1;
      } else {
        fp += 1;
      }
      recall.push_back(tp / double(positives));
      precision.push_back(tp / std::max(tp + fp, std::numeric_limits<double>::epsilon()));
    }
    ap[size_t(k)] = voc_ap(recall, precision, options_.eleven_point);
  }
  return ap;
}

double mean_of_defined(const std::vector<double>& values) {
  double sum = 0;
  int64_t count = 0;
  for (double v : values) {
    if (v != -1.0) sum += v, ++count;
  }
  return count ? sum / double(count) : std::nan("");
}

}  // namespace must::eval
