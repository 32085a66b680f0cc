#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"
#include "must/labels/policy.h"

namespace must::labels {
namespace {

torch::Tensor label_of(Task task, const torch::Tensor& prediction, const LabelPolicy& policy) {
  data::Sample sample;
  label_from_prediction(task, prediction, policy, sample);
  return sample.labels.at(task);
}

TEST(LabelPolicy, ClassificationIsTheSoftmaxAtTheTemperatureAndTopKRenormalises) {
  const torch::Tensor logits = torch::tensor({1.0, 2.0, 3.0, 4.0}, torch::kDouble).log();  // softmax: 0.1 .. 0.4
  LabelPolicy policy;
  EXPECT_TRUE(torch::allclose(label_of(Task::kClassification, logits, policy),
                              torch::tensor({0.1, 0.2, 0.3, 0.4}, torch::kDouble), 0, 1e-12));
  policy.temperature = 2;  // the same probabilities from logits twice as large
  EXPECT_TRUE(torch::allclose(label_of(Task::kClassification, 2 * logits, policy),
                              torch::tensor({0.1, 0.2, 0.3, 0.4}, torch::kDouble), 0, 1e-12));
  policy.temperature = 1;
  policy.top_k = 2;  // 0.3 and 0.4 kept: 3/7 and 4/7
  EXPECT_TRUE(torch::allclose(label_of(Task::kClassification, logits, policy),
                              torch::tensor({0.0, 0.0, 3.0 / 7, 4.0 / 7}, torch::kDouble), 0, 1e-12));
  policy.top_k = 4;  // as many as there are classes: nothing dropped
  EXPECT_TRUE(torch::allclose(label_of(Task::kClassification, logits, policy),
                              torch::tensor({0.1, 0.2, 0.3, 0.4}, torch::kDouble), 0, 1e-12));
}

TEST(LabelPolicy, SegmentationPixelsBelowTheConfidenceAreIgnored) {
  // Two classes, 1 x 3 pixels: class 0 at 90%, a tie (50%, the first class wins argmax), class 1 at 90%.
  const double sure = std::log(9.0);
  const torch::Tensor logits = torch::tensor({{{sure, 0.0, 0.0}}, {{0.0, 0.0, sure}}});
  LabelPolicy policy;
  policy.confidence_threshold = 0.6;
  const torch::Tensor kept = label_of(Task::kSegmentation, logits, policy);
  EXPECT_EQ(kept.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(kept, torch::tensor({{0L, 255L, 1L}})));
  policy.confidence_threshold = 0.5;  // a pixel exactly at the threshold is kept
  EXPECT_TRUE(torch::equal(label_of(Task::kSegmentation, logits, policy), torch::tensor({{0L, 0L, 1L}})));
  policy.confidence_threshold = 0.95;
  EXPECT_TRUE(torch::equal(label_of(Task::kSegmentation, logits, policy), torch::tensor({{255L, 255L, 255L}})));
}

TEST(LabelPolicy, DepthIsKeptAsPredictedAndNormalsAreRenormalised) {
  const torch::Tensor depth = torch::tensor({{{0.5f, 2.25f}}});
  EXPECT_TRUE(torch::equal(label_of(Task::kDepth, depth, LabelPolicy()), depth));
  // (3, 0, 4) -> (0.6, 0, 0.8); a zero vector (no prediction) stays zero.
  const torch::Tensor normals = torch::tensor({{{3.0f, 0.0f}}, {{0.0f, 0.0f}}, {{4.0f, 0.0f}}});
  EXPECT_TRUE(torch::allclose(label_of(Task::kNormals, normals, LabelPolicy()),
                              torch::tensor({{{0.6f, 0.0f}}, {{0.0f, 0.0f}}, {{0.8f, 0.0f}}}), 0, 1e-6));
  data::Sample sample;
  EXPECT_THROW(label_from_prediction(Task::kDetection, depth, LabelPolicy(), sample), Error);
}

TEST(LabelPolicy, DetectionsAreKeptFromTheScoreThresholdInTheirOrder) {
  structures::Instances detections;
  detections.boxes = torch::tensor({{0.0f, 0.0f, 1.0f, 1.0f}, {1.0f, 1.0f, 2.0f, 2.0f}, {2.0f, 2.0f, 3.0f, 3.0f},
                                    {3.0f, 3.0f, 4.0f, 4.0f}, {4.0f, 4.0f, 5.0f, 5.0f}});
  detections.labels = torch::tensor({4L, 3L, 2L, 1L, 0L});
  // At 0.3: float(0.3) is just above 0.3 and kept; the float just below it is not (compared in double).
  detections.scores = torch::tensor({0.9f, 0.3f, std::nextafter(0.3f, 0.0f), 0.5f, 0.1f});
  LabelPolicy policy;
  policy.score_threshold = 0.3;
  const structures::Instances kept = kept_detections(detections, policy);
  ASSERT_EQ(kept.size(), 3);
  EXPECT_TRUE(torch::equal(kept.labels, torch::tensor({4L, 3L, 1L})));
  EXPECT_TRUE(torch::equal(kept.boxes[2], detections.boxes[3]));
  EXPECT_TRUE(torch::equal(kept.scores, torch::tensor({0.9f, 0.3f, 0.5f})));
  policy.score_threshold = 0.95;
  const structures::Instances none = kept_detections(detections, policy);
  EXPECT_EQ(none.size(), 0);
  EXPECT_EQ(none.boxes.sizes(), (std::vector<int64_t>{0, 4}));
}

TEST(LabelPolicy, RoundTripsThroughTheManifestsJson) {
  LabelPolicy policy;
  policy.temperature = 2;
  policy.top_k = 5;
  policy.score_threshold = 0.3;
  policy.confidence_threshold = 0.7;
  policy.flip = true;
  policy.dense_size = {120, 160};
  policy.pack_images = true;
  EXPECT_EQ(to_json(label_policy_from_json(to_json(policy), "memory")), to_json(policy));
  nlohmann::json broken = to_json(policy);
  broken["detection"].erase("score_threshold");
  EXPECT_THROW(label_policy_from_json(broken, "broken"), Error);
}

}  // namespace
}  // namespace must::labels
