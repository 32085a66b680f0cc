// Segmentation, depth and normals metrics, and the classification evaluator, on maps whose answers are worked
// out by hand in the comments.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"
#include "must/eval/confusion_matrix.h"
#include "must/eval/depth_metrics.h"
#include "must/eval/evaluator.h"
#include "must/eval/normal_metrics.h"

namespace must::eval {
namespace {

torch::Tensor longs(std::vector<int64_t> values, std::vector<int64_t> shape) {
  return torch::tensor(values, torch::kLong).view(shape);
}
torch::Tensor floats(std::vector<float> values, std::vector<int64_t> shape) {
  return torch::tensor(values, torch::kFloat).view(shape);
}

// Image A: truth [0 0; 1 255], prediction [0 1; 1 2]; image B: truth [2 2], prediction [2 0]. Over the split,
// C = [[1 1 0] [0 1 0] [1 0 1]]: IoU 1/3, 1/2, 1/2, mIoU 4/9, pixel accuracy 3/5. Per image the means would be
// 1/2 (class 2 absent: its only prediction is on a void pixel, which is no false positive) and 1/4.
TEST(ConfusionMatrix, WholeSplitNotPerImage) {
  ConfusionMatrix matrix(3);
  matrix.add(longs({0, 0, 1, 255}, {2, 2}), longs({0, 1, 1, 2}, {2, 2}));
  matrix.add(longs({2, 2}, {1, 2}), longs({2, 0}, {1, 2}));
  const auto iou = matrix.iou();
  EXPECT_DOUBLE_EQ(iou[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(iou[1], 0.5);
  EXPECT_DOUBLE_EQ(iou[2], 0.5);
  EXPECT_DOUBLE_EQ(matrix.mean_iou(), 4.0 / 9);
  EXPECT_DOUBLE_EQ(matrix.pixel_accuracy(), 0.6);
  EXPECT_EQ(matrix.scored_pixels(), 5);
  ConfusionMatrix a(3), b(3);
  a.add(longs({0, 0, 1, 255}, {2, 2}), longs({0, 1, 1, 2}, {2, 2}));
  b.add(longs({2, 2}, {1, 2}), longs({2, 0}, {1, 2}));
  EXPECT_DOUBLE_EQ((a.mean_iou() + b.mean_iou()) / 2, 3.0 / 8);
}

TEST(ConfusionMatrix, AbsentClassesAllIgnoredAndBadValues) {
  ConfusionMatrix matrix(4);
  matrix.add(longs({0, 1}, {1, 2}), longs({0, 1}, {1, 2}));
  EXPECT_TRUE(std::isnan(matrix.iou()[3]));  // in neither ground truth nor prediction: left out of the mean
  EXPECT_DOUBLE_EQ(matrix.mean_iou(), 1.0);
  ConfusionMatrix ignored(4);
  ignored.add(longs({255, 255}, {1, 2}), longs({0, 3}, {1, 2}));
  EXPECT_EQ(ignored.scored_pixels(), 0);
  EXPECT_TRUE(std::isnan(ignored.mean_iou()));
  EXPECT_TRUE(std::isnan(ignored.pixel_accuracy()));
  try {
    matrix.add(longs({7}, {1, 1}), longs({0}, {1, 1}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ground-truth class 7"), std::string::npos) << e.what();
  }
  EXPECT_THROW(matrix.add(longs({0}, {1, 1}), longs({4}, {1, 1})), Error);
  EXPECT_THROW(matrix.add(longs({0, 0}, {1, 2}), longs({0}, {1, 1})), Error);
}

// Hand-worked: truth 0 0 1 1 255, prediction 0 none 1 none 0. Class 0: TP 1, FN 1 (the pixel of no class), FP 0
// -> 1/2; class 1: TP 1, FN 1 -> 1/2; the void pixel is skipped; accuracy 2 of 4. cityscapesScripts' rule: an
// ignoreInEval prediction adds to fn of the true class and to fp of none.
TEST(ConfusionMatrix, NoClassPredictionIsAMissAndNoFalsePositive) {
  const int64_t none = ConfusionMatrix::kNoClass;
  ConfusionMatrix matrix(2);
  matrix.add(longs({0, 0, 1, 1, 255}, {1, 5}), longs({0, none, 1, none, 0}, {1, 5}));
  EXPECT_DOUBLE_EQ(matrix.iou()[0], 0.5);
  EXPECT_DOUBLE_EQ(matrix.iou()[1], 0.5);
  EXPECT_DOUBLE_EQ(matrix.pixel_accuracy(), 0.5);
  EXPECT_EQ(matrix.scored_pixels(), 4);
  matrix.reset();
  EXPECT_EQ(matrix.scored_pixels(), 0);
}

// Valid pixels g = 1, 2, 4 (0 is invalid, 20 is beyond the 10 m cap) against d = 2 everywhere:
// AbsRel (1 + 0 + 2/4) / 3, SqRel (1 + 0 + 1) / 3, RMSE sqrt(5/3), RMSE_log sqrt(2 ln^2 2 / 3),
// log10 2 log10(2) / 3, and only the middle pixel within 1.25^3 (ratio 2 > 1.953125).
TEST(DepthMetrics, HandWorkedErrorsAndCaps) {
  DepthMetrics metrics;
  metrics.add(floats({1, 2, 4, 0, 20}, {1, 1, 5}), floats({2, 2, 2, 5, 5}, {1, 1, 5}));
  auto v = metrics.values();
  EXPECT_NEAR(v["AbsRel"], 0.5, 1e-12);
  EXPECT_NEAR(v["SqRel"], 2.0 / 3, 1e-12);
  EXPECT_NEAR(v["RMSE"], std::sqrt(5.0 / 3), 1e-12);
  EXPECT_NEAR(v["RMSE_log"], std::sqrt(2 * std::log(2.0) * std::log(2.0) / 3), 1e-12);
  EXPECT_NEAR(v["log10"], 2 * std::log10(2.0) / 3, 1e-12);
  EXPECT_NEAR(v["delta1"], 100.0 / 3, 1e-9);
  EXPECT_NEAR(v["delta3"], 100.0 / 3, 1e-9);
  EXPECT_EQ(v["pixels"], 3);
  // Predictions are clamped into [min, max]: 20 -> 10 against 5 is AbsRel 1; NaN -> the minimum.
  DepthMetrics clamped;
  clamped.add(floats({5}, {1, 1}), floats({20}, {1, 1}));
  EXPECT_NEAR(clamped.values()["AbsRel"], 1.0, 1e-12);
  DepthMetrics nothing;
  nothing.add(floats({0, 50}, {1, 2}), floats({1, 1}, {1, 2}));
  EXPECT_TRUE(std::isnan(nothing.values()["AbsRel"]));
  EXPECT_EQ(nothing.values()["valid_images"], 0);
}

// A ground truth of 1 mm in a float32 map is 0.001f, above the double 0.001 by 5e-11: BTS compares in float32 and
// leaves it out, and so do we (the minimum cap is 0.001 by default). Its neighbour above, nextafter(0.001f), counts.
TEST(DepthMetrics, OneMillimetreGroundTruthIsLeftOutAsBtsDoes) {
  const float one_mm = 0.001f, above = std::nextafter(one_mm, 1.0f);
  ASSERT_GT(double(one_mm), 0.001);
  DepthMetrics metrics;
  metrics.add(floats({one_mm, 2, above}, {1, 3}), floats({1, 2, above}, {1, 3}));
  EXPECT_EQ(metrics.values()["pixels"], 2);
  EXPECT_NEAR(metrics.values()["AbsRel"], 0.0, 1e-12);
  // Predictions below the cap are raised to it in float32 too: 0.001f against the pixel just above it.
  DepthMetrics clamped;
  clamped.add(floats({above}, {1, 1}), floats({0.0f}, {1, 1}));
  EXPECT_NEAR(clamped.values()["AbsRel"], (double(above) - double(one_mm)) / double(above), 1e-15);
}

// Image 1: g = 1, d = 2 (AbsRel 1); image 2: three exact pixels (0). Per image: (1 + 0) / 2; pooled: 1 / 4.
TEST(DepthMetrics, PerImageOrPooledAveraging) {
  DepthMetricOptions options;
  DepthMetrics per_image(options);
  options.per_image = false;
  DepthMetrics pooled(options);
  for (DepthMetrics* m : {&per_image, &pooled}) {
    m->add(floats({1}, {1, 1}), floats({2}, {1, 1}));
    m->add(floats({1, 1, 1}, {1, 3}), floats({1, 1, 1}, {1, 3}));
  }
  EXPECT_NEAR(per_image.values()["AbsRel"], 0.5, 1e-12);
  EXPECT_NEAR(pooled.values()["AbsRel"], 0.25, 1e-12);
  EXPECT_NEAR(per_image.values()["RMSE"], 0.5, 1e-12);         // (1 + 0) / 2
  EXPECT_NEAR(pooled.values()["RMSE"], std::sqrt(0.25), 1e-12);  // sqrt(1 / 4)
}

TEST(DepthMetrics, EigenCropAndMedianScaling) {
  // Errors only outside rows 45..470 / columns 41..600 of 480 x 640: none left after the crop.
  torch::Tensor truth = torch::ones({480, 640});
  torch::Tensor prediction = torch::full({480, 640}, 2.0f);
  prediction.slice(0, 45, 471).slice(1, 41, 601).fill_(1.0f);
  DepthMetricOptions options;
  options.crop = DepthCrop::kEigen;
  DepthMetrics cropped(options);
  cropped.add(truth, prediction);
  EXPECT_EQ(cropped.values()["AbsRel"], 0);
  EXPECT_EQ(cropped.values()["pixels"], 426 * 560);
  DepthMetrics whole;
  whole.add(truth, prediction);
  EXPECT_GT(whole.values()["AbsRel"], 0);
  // d = 2 g: the medians' ratio 2.5 / 5 (numpy's even-count median) scales it back exactly.
  options = {};
  options.median_scaling = true;
  DepthMetrics scaled(options);
  scaled.add(floats({1, 2, 3, 4}, {1, 4}), floats({2, 4, 6, 8}, {1, 4}));
  EXPECT_NEAR(scaled.values()["AbsRel"], 0, 1e-12);
}

// Errors 90 (perpendicular), 0 (same direction, other length), 90 (zero-length prediction), 10 degrees; the
// zero ground truth is skipped. Mean 47.5, median (10 + 90) / 2, RMSE sqrt(16300 / 4), 50% within each bound.
TEST(NormalMetrics, HandWorkedAngles) {
  const float c = std::cos(10 * M_PI / 180), s = std::sin(10 * M_PI / 180);
  const torch::Tensor truth = floats({1, 0, 1, 0, 1,  //
                                      0, 0, 0, 0, 0,  //
                                      0, 1, 0, 0, 0},
                                     {3, 1, 5});
  const torch::Tensor prediction = floats({0, 0, 0, 5, c,  //
                                           1, 0, 0, 5, s,  //
                                           0, 2, 0, 5, 0},
                                          {3, 1, 5});
  NormalMetrics metrics;
  metrics.add(truth, prediction);
  auto v = metrics.values();
  EXPECT_EQ(v["pixels"], 4);
  EXPECT_NEAR(v["mean_angle"], 47.5, 1e-4);
  EXPECT_NEAR(v["median_angle"], 50.0, 1e-4);
  EXPECT_NEAR(v["rmse_angle"], std::sqrt(16300.0 / 4), 1e-4);
  EXPECT_DOUBLE_EQ(v["within_11.25"], 50);
  EXPECT_DOUBLE_EQ(v["within_22.5"], 50);
  EXPECT_DOUBLE_EQ(v["within_30"], 50);
  metrics.reset();
  metrics.add(floats({1, 1, 1}, {3, 1, 1}), floats({1, 1, 1}, {3, 1, 1}));
  EXPECT_NEAR(metrics.values()["median_angle"], 0, 1e-4);
}

TEST(Evaluators, ClassificationTopOneAndFive) {
  auto evaluator = make_evaluator(Task::kClassification, {});
  auto sample = [](int64_t label) {
    data::Sample s;
    s.source = "image" + std::to_string(label);
    s.labels[Task::kClassification] = torch::zeros({6});
    s.labels[Task::kClassification][label] = 1;
    return s;
  };
  ImagePrediction ranked;
  ranked.values = longs({3, 1, 2, 0, 4}, {5});
  evaluator->process(ranked, sample(3), 0);  // top-1
  evaluator->process(ranked, sample(2), 1);  // top-5 only
  evaluator->process(ranked, sample(5), 2);  // neither
  const MetricValues v = evaluator->evaluate();
  EXPECT_NEAR(v.at("top1"), 100.0 / 3, 1e-9);
  EXPECT_NEAR(v.at("top5"), 200.0 / 3, 1e-9);
  EXPECT_EQ(v.at("images"), 3);
  ImagePrediction wrong_size;
  wrong_size.values = longs({0}, {1, 1});
  EXPECT_THROW(evaluator->process(wrong_size, sample(0), 3), Error);
}

TEST(Evaluators, DensePredictionMustFitItsLabel) {
  EvaluatorContext context;
  context.class_names = {"a", "b"};
  auto evaluator = make_evaluator(Task::kSegmentation, context);
  data::Sample truth;
  truth.source = "label.png";
  truth.labels[Task::kSegmentation] = longs({0, 1, 1, 0}, {2, 2});
  ImagePrediction prediction;
  prediction.values = longs({0, 1, 1}, {1, 3});
  try {
    evaluator->process(prediction, truth, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label.png"), std::string::npos) << e.what();
  }
  prediction.values = longs({0, 1, 0, 0}, {2, 2});
  evaluator->process(prediction, truth, 0);
  const MetricValues v = evaluator->evaluate();
  EXPECT_NEAR(v.at("mIoU"), 100 * (2.0 / 3 + 1.0 / 2) / 2, 1e-9);
  EXPECT_NEAR(v.at("IoU/b"), 50, 1e-9);
}

}  // namespace
}  // namespace must::eval
