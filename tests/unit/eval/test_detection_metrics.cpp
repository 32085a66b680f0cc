// COCO and VOC AP: hand-worked cases, and random scenes checked against independent transcriptions of the
// reference code, run at test time with Debian's python3 + numpy on the same JSON files:
// tests/eval/coco_reference.py (pycocotools' cocoeval.py + coco.py loadRes + maskApi.c bbIou, transcribed line by
// line with numpy, written apart from the C++ and checked on its own hand-worked cases) and voc_reference.py
// (py-faster-rcnn's voc_eval.py). pycocotools itself is not installable here (no PyPI, no Debian package).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "detection_fixture.h"
#include "must/core/check.h"
#include "must/eval/coco_detection_metric.h"
#include "must/eval/voc_detection_metric.h"
#include "test_support.h"

namespace must::eval {
namespace {

constexpr double kEps = 2.220446049250313e-16;  // np.spacing(1): precision 1 is 1 / (1 + eps) in pycocotools

GroundTruthBox truth(int64_t category, BoxXywh box, bool ignore = false) {
  return {category, box, box.w * box.h, ignore};
}

nlohmann::json run_reference(const std::string& script, const std::string& arguments) {
  const auto result = must::test::run_command(must::test::python() + " " + must::test::source_path("tests/eval/" + script).string() + " " + arguments);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return nlohmann::json::parse(result.output);
}

// One category, two 10 x 10 boxes; detections: a hit (0.9), a miss (0.8), a hit (0.7). Precision is 1 up to
// recall 0.5 (51 recall thresholds) and 2/3 above (50), at every IoU threshold: AP = (51 + 50 * 2/3) / 101.
TEST(CocoDetectionMetric, HandWorkedPrecisionRecallCurve) {
  CocoDetectionMetric metric(1);
  metric.add_image(1, {truth(0, {0, 0, 10, 10}), truth(0, {20, 0, 10, 10})},
                   {{0, {0, 0, 10, 10}, 0.9}, {0, {50, 50, 10, 10}, 0.8}, {0, {20, 0, 10, 10}, 0.7}});
  const CocoSummary s = metric.summarize();
  const double ap = (51 / (1 + kEps) + 50 * (2.0 / 3)) / 101;
  for (int i : {0, 1, 2, 3}) EXPECT_NEAR(s.stats[size_t(i)], ap, 1e-12) << CocoSummary::names()[size_t(i)];
  EXPECT_EQ(s.stats[4], -1);  // no medium or large ground truth
  EXPECT_EQ(s.stats[5], -1);
  EXPECT_DOUBLE_EQ(s.stats[6], 0.5);  // AR1: only the first detection counts
  EXPECT_DOUBLE_EQ(s.stats[7], 1.0);
  EXPECT_DOUBLE_EQ(s.stats[8], 1.0);
  EXPECT_DOUBLE_EQ(s.stats[9], 1.0);
  EXPECT_EQ(s.stats[10], -1);
  EXPECT_NE(s.text().find("Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.835"),
            std::string::npos) << s.text();
}

// Detections inside a crowd region match it (by intersection over the detection's area), again and again, and
// count neither as hits nor misses; a category without ground truth is left out of the mean.
TEST(CocoDetectionMetric, CrowdRegionsAndCategoriesWithoutTruth) {
  CocoDetectionMetric metric(2);
  metric.add_image(7, {truth(0, {0, 0, 10, 10}), truth(0, {100, 100, 50, 50}, /*crowd=*/true)},
                   {{0, {110, 110, 10, 10}, 0.95}, {0, {0, 0, 10, 10}, 0.9}, {0, {120, 120, 10, 10}, 0.8},
                    {1, {300, 300, 10, 10}, 0.85}});
  const CocoSummary s = metric.summarize();
  EXPECT_NEAR(s.stats[0], 1 / (1 + kEps), 1e-12);  // without the crowd rule it would be 1/2
  EXPECT_NEAR(s.category_ap[0], 1 / (1 + kEps), 1e-12);
  EXPECT_EQ(s.category_ap[1], -1);
  EXPECT_DOUBLE_EQ(s.stats[6], 0.0);  // AR1: the top detection is the (ignored) crowd match
  EXPECT_DOUBLE_EQ(s.stats[8], 1.0);
}

TEST(CocoDetectionMetric, NoDetectionsScoreZeroAndBadInputIsNamed) {
  CocoDetectionMetric metric(1);
  metric.add_image(1, {truth(0, {0, 0, 50, 50})}, {});
  const CocoSummary s = metric.summarize();
  EXPECT_EQ(s.stats[0], 0);
  EXPECT_EQ(s.stats[8], 0);
  EXPECT_EQ(s.stats[3], -1);  // the box is medium
  EXPECT_THROW(metric.add_image(2, {}, {{3, {0, 0, 1, 1}, 0.5}}), Error);
  EXPECT_THROW(metric.add_image(2, {}, {{0, {0, 0, 1, 1}, std::nan("")}}), Error);
  metric.add_image(1, {}, {});
  EXPECT_THROW(metric.summarize(), Error);  // image 1 twice
}

// 40 images, 5 categories (one without ground truth), crowd boxes, areas on the range bounds, an image with more
// than 100 detections, tied scores: all 12 numbers equal those of the cocoeval.py transcription.
TEST(CocoDetectionMetric, MatchesTheCocoevalTranscription) {
  const int categories = 5;
  const auto scene = test::random_scene(11, 40, categories);
  int64_t crowded = 0;
  for (const auto& d : scene[3].detections) crowded += d.category == 0;
  ASSERT_GT(crowded, 110);  // past COCO's 100 per image and category: the true positives behind them do not count
  must::test::ScratchDir dir;
  test::write_coco_files(scene, categories, dir / "gt.json", dir / "results.json");
  CocoDetectionMetric metric(categories);
  // Added in a shuffled order: the metric orders images by id, as pycocotools does.
  for (size_t k = 0; k < scene.size(); ++k) {
    const auto& image = scene[(k * 17) % scene.size()];
    metric.add_image(image.id, image.truth, image.detections);
  }
  const CocoSummary s = metric.summarize();
  const auto reference = run_reference("coco_reference.py", (dir / "gt.json").string() + " " + (dir / "results.json").string());
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_NEAR(s.stats[i], reference["stats"][i].get<double>(), 1e-9) << CocoSummary::names()[i];
  }
  EXPECT_GT(s.stats[0], 0.05);  // a scene that exercises the matching, not an empty one
  for (size_t area : {3, 4, 5}) EXPECT_GT(s.stats[area], -1) << "no ground truth in area range " << area;
}

// Two boxes and a difficult one; detections: on the difficult box (ignored), a hit, a duplicate, and one at IoU
// exactly 0.5. Recall/precision: (.5, 1), (.5, .5), (1, 2/3). All-point AP = .5 + .5 * 2/3; 11-point: 1 at
// recall 0..0.5 (6 points), 2/3 at 0.6..1 (5 points). With the strict rule the last one misses.
TEST(VocDetectionMetric, HandWorkedDifficultDuplicateAndBoundary) {
  auto run = [](bool eleven_point, bool strict) {
    VocDetectionMetric metric(2, {eleven_point, strict});
    metric.add_image({truth(0, {0, 0, 10, 10}), truth(0, {20, 0, 10, 10}), truth(0, {40, 0, 10, 10}, true),
                      truth(1, {0, 0, 5, 5}, /*difficult=*/true)},
                     {{0, {40, 0, 10, 10}, 0.95}, {0, {0, 0, 10, 10}, 0.9}, {0, {0, 0, 10, 10}, 0.8},
                      {0, {20, 0, 5, 10}, 0.7}});
    return metric.average_precision(0.5);
  };
  EXPECT_NEAR(run(false, false)[0], 5.0 / 6, 1e-12);
  EXPECT_NEAR(run(false, true)[0], 0.5, 1e-12);
  EXPECT_NEAR(run(true, false)[0], 28.0 / 33, 1e-12);
  EXPECT_NEAR(run(true, true)[0], 6.0 / 11, 1e-12);
  EXPECT_EQ(run(false, false)[1], -1);  // only a difficult box: no AP, left out of the mean
  EXPECT_NEAR(mean_of_defined(run(false, false)), 5.0 / 6, 1e-12);
}

// Recall of exactly 0.3 misses numpy.arange's 0.30000000000000004 in the 11-point AP.
TEST(VocDetectionMetric, ElevenPointThresholdsAreNumpys) {
  VocDetectionMetric metric(1, {true, false});
  std::vector<GroundTruthBox> boxes;
  std::vector<DetectedBox> detections;
  for (int i = 0; i < 10; ++i) boxes.push_back(truth(0, {20.0 * i, 0, 10, 10}));
  for (int i = 0; i < 3; ++i) detections.push_back({0, {20.0 * i, 0, 10, 10}, 0.9 - 0.1 * i});
  metric.add_image(boxes, detections);
  EXPECT_NEAR(metric.average_precision(0.5)[0], 3.0 / 11, 1e-12);
}

TEST(VocDetectionMetric, MatchesTheVocEvalTranscription) {
  const int categories = 5;
  const auto scene = test::random_scene(23, 40, categories, 30);
  must::test::ScratchDir dir;
  test::write_coco_files(scene, categories, dir / "gt.json", dir / "results.json");
  for (bool eleven_point : {true, false}) {
    for (bool strict : {false, true}) {
      VocDetectionMetric metric(categories, {eleven_point, strict});
      for (const auto& image : scene) metric.add_image(image.truth, image.detections);
      const std::vector<double> ap = metric.average_precision(0.5);
      const auto reference = run_reference(
          "voc_reference.py", (dir / "gt.json").string() + " " + (dir / "results.json").string() +
                                  (eleven_point ? " --use-07-metric" : "") + (strict ? " --strict" : ""));
      for (int k = 0; k < categories; ++k) {
        const auto& expected = reference["ap"][std::to_string(k + 1)];
        if (expected.is_null()) {
          EXPECT_EQ(ap[size_t(k)], -1) << k;
        } else {
          EXPECT_NEAR(ap[size_t(k)], expected.get<double>(), 1e-9) << "class " << k << " 07 " << eleven_point << " strict " << strict;
        }
      }
      EXPECT_NEAR(mean_of_defined(ap), reference["map"].get<double>(), 1e-9);
    }
  }
}

}  // namespace
}  // namespace must::eval
