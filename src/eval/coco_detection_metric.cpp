#include "must/eval/coco_detection_metric.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "must/core/check.h"

namespace must::eval {
namespace {

constexpr int kThresholds = 10, kRecalls = 101, kAreas = 4, kMaxDets = 3;
constexpr int kMaxDet[kMaxDets] = {1, 10, 100};
constexpr double kAreaRange[kAreas][2] = {{0, 1e10}, {0, 32 * 32}, {32 * 32, 96 * 96}, {96 * 96, 1e10}};
constexpr const char* kAreaName[kAreas] = {"all", "small", "medium", "large"};
// np.spacing(1), added to pycocotools' precision denominators.
constexpr double kEps = 2.220446049250313e-16;

// numpy.linspace(start, stop, num): start + i * ((stop - start) / (num - 1)), the last value exactly `stop`.
// (pycocotools' thresholds are these doubles: 0.8999999999999999, not 0.9; 0.35000000000000003, not 0.35.)
template <int N>
std::array<double, N> linspace(double start, double stop) {
  std::array<double, N> out{};
  const double step = (stop - start) / double(N - 1);
  for (int i = 0; i < N; ++i) out[size_t(i)] = double(i) * step + start;
  out[N - 1] = stop;
  return out;
}
const std::array<double, kThresholds> kIouThresholds = linspace<kThresholds>(0.5, 0.95);
const std::array<double, kRecalls> kRecallThresholds = linspace<kRecalls>(0.0, 1.0);

// One detection of one image and category, evaluated in one area range: bit t of `matched` / `ignored` is its
// outcome at IoU threshold t.
struct EvaluatedDetection {
  double score;
  int rank;  // in its image and category, by score
  uint16_t matched, ignored;
};

// Everything one (category, area range) needs from all images, in image order.
struct CategoryArea {
  std::vector<EvaluatedDetection> detections;
  int64_t truth = 0;  // non-ignored ground truth
  bool seen = false;  // some image had ground truth or detections of the category
};

// pycocotools' evaluateImg for one image, category and area range. `ious` is [detections][truth], in the given
// orders; detections are sorted by score and at most 100.
void evaluate_image(const std::vector<const GroundTruthBox*>& truth, const std::vector<const DetectedBox*>& detections,
                    const std::vector<double>& ious, int area, CategoryArea& out) {
  const double low = kAreaRange[area][0], high = kAreaRange[area][1];
  const size_t g_count = truth.size(), d_count = detections.size();
  // Ground truth, non-ignored first (a stable order).
  std::vector<size_t> order(g_count);
  std::iota(order.begin(), order.end(), 0);
  std::vector<char> ignored(g_count);
  for (size_t g = 0; g < g_count; ++g) {
    const GroundTruthBox& box = *truth[g];
    ignored[g] = box.ignore || box.area < low || box.area > high;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ignored[a] < ignored[b]; });
  for (size_t g = 0; g < g_count; ++g) out.truth += !ignored[g];
  out.seen = true;

  std::vector<EvaluatedDetection> evaluated(d_count);
  for (size_t d = 0; d < d_count; ++d) evaluated[d] = {detections[d]->score, int(d), 0, 0};
  std::vector<char> taken(g_count);
  for (int t = 0; t < kThresholds; ++t) {
    std::fill(taken.begin(), taken.end(), 0);
    for (size_t d = 0; d < d_count; ++d) {
      double best = std::min(kIouThresholds[size_t(t)], 1 - 1e-10);
      int match = -1;
      for (size_t position = 0; position < g_count; ++position) {
        const size_t g = order[position];
        if (taken[g] && !truth[g]->ignore) continue;  // crowd boxes may be matched again
        // Holding a real match, stop where the ignored boxes begin.
        if (match > -1 && !ignored[size_t(match)] && ignored[g]) break;
        const double iou = ious[d * g_count + g];
        if (iou < best) continue;
        best = iou;
        match = int(g);
      }
      if (match == -1) continue;
      evaluated[d].matched |= uint16_t(1u << t);
      if (ignored[size_t(match)]) evaluated[d].ignored |= uint16_t(1u << t);
      taken[size_t(match)] = 1;
    }
  }
  for (size_t d = 0; d < d_count; ++d) {  // unmatched detections outside the area range are ignored
    const double area_of_box = detections[d]->box.w * detections[d]->box.h;
    if (area_of_box < low || area_of_box > high) evaluated[d].ignored |= uint16_t(~evaluated[d].matched);
  }
  out.detections.insert(out.detections.end(), evaluated.begin(), evaluated.end());
}

double mean_above_minus_one(const std::vector<double>& values) {
  double sum = 0;
  int64_t count = 0;
  for (double v : values) {
    if (v > -1) sum += v, ++count;
  }
  return count ? sum / double(count) : -1.0;
}

// pycocotools' evaluate(): each image's detections and ground truth of each category, in each area range, images
// in id order. Entry k * kAreas + a holds category k in area range a.
std::vector<CategoryArea> evaluate(const std::vector<const CocoDetectionMetric::Image*>& images, int64_t K) {
  std::vector<CategoryArea> per(size_t(K * kAreas));
  std::vector<std::vector<const GroundTruthBox*>> truth_of(static_cast<size_t>(K));
  std::vector<std::vector<const DetectedBox*>> detections_of(static_cast<size_t>(K));
  std::vector<double> ious;
  for (const CocoDetectionMetric::Image* image_pointer : images) {
    const CocoDetectionMetric::Image& image = *image_pointer;
    for (auto& v : truth_of) v.clear();
    for (auto& v : detections_of) v.clear();
    for (const auto& box : image.truth) truth_of[size_t(box.category)].push_back(&box);
    for (const auto& box : image.detections) detections_of[size_t(box.category)].push_back(&box);
    for (int64_t k = 0; k < K; ++k) {
      const auto& truth = truth_of[size_t(k)];
      auto& detections = detections_of[size_t(k)];
      if (truth.empty() && detections.empty()) continue;
      std::stable_sort(detections.begin(), detections.end(),
                       [](const DetectedBox* a, const DetectedBox* b) { return a->score > b->score; });
      if (detections.size() > size_t(kMaxDet[kMaxDets - 1])) detections.resize(size_t(kMaxDet[kMaxDets - 1]));
      ious.assign(detections.size() * truth.size(), 0.0);
      for (size_t d = 0; d < detections.size(); ++d) {
        for (size_t g = 0; g < truth.size(); ++g) {
          ious[d * truth.size() + g] = box_iou(detections[d]->box, truth[g]->box, truth[g]->ignore);
        }
      }
      for (int a = 0; a < kAreas; ++a) evaluate_image(truth, detections, ious, a, per[size_t(k * kAreas + a)]);
    }
  }
  return per;
}

// The precision [T][R][K][A][M] and recall [T][K][A][M] arrays accumulate() makes, -1 where a category has nothing.
struct Accumulation {
  int64_t K = 0;
  std::vector<double> precision, recall;
  size_t p_index(int t, int r, int64_t k, int a, int m) const {
    return (((size_t(t) * kRecalls + size_t(r)) * size_t(K) + size_t(k)) * kAreas + size_t(a)) * kMaxDets + size_t(m);
  }
  size_t r_index(int t, int64_t k, int a, int m) const {
    return ((size_t(t) * size_t(K) + size_t(k)) * kAreas + size_t(a)) * kMaxDets + size_t(m);
  }
};

// pycocotools' accumulate(): per category, area range and maxDets, all images' detections by score, the precision
// at each recall threshold and the recall reached.
Accumulation accumulate(std::vector<CategoryArea> per, int64_t K) {
  Accumulation out;
  out.K = K;
  out.precision.assign(size_t(kThresholds * kRecalls * K * kAreas * kMaxDets), -1.0);
  out.recall.assign(size_t(kThresholds * K * kAreas * kMaxDets), -1.0);
  std::vector<double> rc, pr;
  std::vector<const EvaluatedDetection*> kept;
  for (int64_t k = 0; k < K; ++k) {
    for (int a = 0; a < kAreas; ++a) {
      CategoryArea& entry = per[size_t(k * kAreas + a)];
      if (!entry.seen || entry.truth == 0) continue;
      // All images' detections by score; the sort is stable, so ties keep image order, then rank order. Filtering
      // this order by rank gives the order pycocotools sorts for the smaller maxDets.
      std::stable_sort(entry.detections.begin(), entry.detections.end(),
                       [](const EvaluatedDetection& x, const EvaluatedDetection& y) { return x.score > y.score; });
      for (int m = 0; m < kMaxDets; ++m) {
        kept.clear();
        for (const auto& d : entry.detections) {
          if (d.rank < kMaxDet[m]) kept.push_back(&d);
        }
        const size_t n = kept.size();
        for (int t = 0; t < kThresholds; ++t) {
          rc.resize(n), pr.resize(n);
          double tp = 0, fp = 0;
          for (size_t i = 0; i < n; ++i) {
            const bool matched = kept[i]->matched >> t & 1u, ignored = kept[i]->ignored >> t & 1u;
            tp += matched && !ignored;
            fp += !matched && !ignored;
            rc[i] = tp / double(entry.truth);
            pr[i] = tp / (fp + tp + kEps);
          }
          out.recall[out.r_index(t, k, a, m)] = n ? rc[n - 1] : 0.0;
          for (size_t i = n; i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
          for (int r = 0; r < kRecalls; ++r) {
            const size_t at = size_t(std::lower_bound(rc.begin(), rc.end(), kRecallThresholds[size_t(r)]) - rc.begin());
            out.precision[out.p_index(t, r, k, a, m)] = at < n ? pr[at] : 0.0;
          }
        }
      }
    }
  }
  return out;
}

// pycocotools' summarize(): the 12 stats and each category's AP.
CocoSummary summarize(const Accumulation& accumulation) {
  const int64_t K = accumulation.K;
  auto threshold_index = [](double iou) {
    for (int t = 0; t < kThresholds; ++t) {
      if (kIouThresholds[size_t(t)] == iou) return t;
    }
    return -1;
  };
  auto average_precision = [&](int t_only, int a, int m, int64_t k_only = -1) {
    std::vector<double> values;
    for (int t = 0; t < kThresholds; ++t) {
      if (t_only >= 0 && t != t_only) continue;
      for (int r = 0; r < kRecalls; ++r) {
        for (int64_t k = 0; k < K; ++k) {
          if (k_only < 0 || k == k_only) values.push_back(accumulation.precision[accumulation.p_index(t, r, k, a, m)]);
        }
      }
    }
    return mean_above_minus_one(values);
  };
  auto average_recall = [&](int a, int m) {
    std::vector<double> values;
    for (int t = 0; t < kThresholds; ++t) {
      for (int64_t k = 0; k < K; ++k) values.push_back(accumulation.recall[accumulation.r_index(t, k, a, m)]);
    }
    return mean_above_minus_one(values);
  };
  MUST_CHECK(threshold_index(0.5) >= 0 && threshold_index(0.75) >= 0, "IoU thresholds lack 0.5 or 0.75");
  CocoSummary summary;
  const int all = 0, last = kMaxDets - 1;
  summary.stats = {average_precision(-1, all, last),
                   average_precision(threshold_index(0.5), all, last),
                   average_precision(threshold_index(0.75), all, last),
                   average_precision(-1, 1, last),
                   average_precision(-1, 2, last),
                   average_precision(-1, 3, last),
                   average_recall(all, 0),
                   average_recall(all, 1),
                   average_recall(all, last),
                   average_recall(1, last),
                   average_recall(2, last),
                   average_recall(3, last)};
  for (int64_t k = 0; k < K; ++k) summary.category_ap.push_back(average_precision(-1, all, last, k));
  return summary;
}

}  // namespace

const std::array<std::string_view, 12>& CocoSummary::names() {
  static const std::array<std::string_view, 12> names = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                          "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return names;
}

std::string CocoSummary::text() const {
  struct Line {
    bool precision;
    const char* iou;
    int area, max_dets;
  };
  static const Line lines[12] = {{true, "0.50:0.95", 0, 100}, {true, "0.50", 0, 100},  {true, "0.75", 0, 100},
                                 {true, "0.50:0.95", 1, 100}, {true, "0.50:0.95", 2, 100}, {true, "0.50:0.95", 3, 100},
                                 {false, "0.50:0.95", 0, 1},  {false, "0.50:0.95", 0, 10}, {false, "0.50:0.95", 0, 100},
                                 {false, "0.50:0.95", 1, 100}, {false, "0.50:0.95", 2, 100}, {false, "0.50:0.95", 3, 100}};
  std::string out;
  char line[160];
  for (int i = 0; i < 12; ++i) {
    const Line& l = lines[i];
    std::snprintf(line, sizeof(line), " %-18s %s @[ IoU=%-9s | area=%6s | maxDets=%3d ] = %0.3f\n",
                  l.precision ? "Average Precision" : "Average Recall", l.precision ? "(AP)" : "(AR)", l.iou,
                  kAreaName[l.area], l.max_dets, stats[size_t(i)]);
    out += line;
  }
  return out;
}

CocoDetectionMetric::CocoDetectionMetric(int64_t num_categories) : num_categories_(num_categories) {
  MUST_CHECK(num_categories >= 1, "COCO AP needs at least one category, got ", num_categories);
}

void CocoDetectionMetric::add_image(int64_t image_id, std::vector<GroundTruthBox> truth,
                                    std::vector<DetectedBox> detections) {
  for (const auto& box : truth) {
    MUST_CHECK(box.category >= 0 && box.category < num_categories_, "image ", image_id, ": ground-truth class ",
               box.category, " outside [0, ", num_categories_, ")");
  }
  for (const auto& box : detections) {
    MUST_CHECK(box.category >= 0 && box.category < num_categories_, "image ", image_id, ": detected class ",
               box.category, " outside [0, ", num_categories_, ")");
    MUST_CHECK(std::isfinite(box.score), "image ", image_id, ": detection score ", box.score, " is not finite");
  }
  images_.push_back({image_id, std::move(truth), std::move(detections)});
}

CocoSummary CocoDetectionMetric::summarize() const {
  std::vector<const Image*> images;
  for (const Image& image : images_) images.push_back(&image);
  std::stable_sort(images.begin(), images.end(), [](const Image* a, const Image* b) { return a->id < b->id; });
  for (size_t i = 1; i < images.size(); ++i) {
    MUST_CHECK(images[i]->id != images[i - 1]->id, "image id ", images[i]->id, " was evaluated twice");
  }
  return eval::summarize(accumulate(evaluate(images, num_categories_), num_categories_));
}

}  // namespace must::eval
