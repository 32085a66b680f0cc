#include "must/losses/task_losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"

namespace must::losses {
namespace {

torch::Tensor all(int64_t b) { return torch::ones({b}, torch::kBool); }
torch::Tensor none(int64_t b) { return torch::zeros({b}, torch::kBool); }

void expect_no_gradient_zero(const torch::Tensor& loss) {
  EXPECT_EQ(loss.item<double>(), 0.0);
  EXPECT_FALSE(loss.requires_grad());
}

TEST(SoftCrossEntropy, HandComputed) {
  // logits (0, ln 3): softmax = (1/4, 3/4). Target (1/2, 1/2): -(0.5 ln 0.25 + 0.5 ln 0.75).
  const auto logits = torch::tensor({{0.0, std::log(3.0)}, {5.0, 5.0}}, torch::kDouble);
  const auto target = torch::tensor({{0.5, 0.5}, {1.0, 0.0}}, torch::kDouble);
  const double first = -(0.5 * std::log(0.25) + 0.5 * std::log(0.75));
  EXPECT_NEAR(soft_cross_entropy(logits, target, torch::tensor({true, false})).item<double>(), first, 1e-12);
  // Second sample alone: logits equal, so -ln(1/2).
  EXPECT_NEAR(soft_cross_entropy(logits, target, torch::tensor({false, true})).item<double>(), std::log(2.0), 1e-12);
  EXPECT_NEAR(soft_cross_entropy(logits, target, all(2)).item<double>(), (first + std::log(2.0)) / 2, 1e-12);
  // Temperature 2 halves the logits: softmax(0, ln 3 / 2) = (1, sqrt 3) / (1 + sqrt 3).
  const double p0 = 1 / (1 + std::sqrt(3.0)), p1 = 1 - p0;
  EXPECT_NEAR(soft_cross_entropy(logits, target, torch::tensor({true, false}), 2.0).item<double>(),
              -(0.5 * std::log(p0) + 0.5 * std::log(p1)), 1e-12);
  expect_no_gradient_zero(soft_cross_entropy(logits.requires_grad_(), target, none(2)));
}

TEST(CrossEntropyMap, IgnoresVoidPixelsAndUnlabelledSamples) {
  // One image, two classes, 1x3 pixels: logits favour class 1 by ln 3 everywhere -> p(1) = 3/4.
  const auto logits = torch::tensor({0.0, std::log(3.0)}, torch::kDouble).view({1, 2, 1, 1}).expand({2, 2, 1, 3}).contiguous();
  const auto labels = torch::tensor({{{1, 0, 255}}, {{0, 0, 0}}}, torch::kLong);
  const double expected = (-std::log(0.75) - std::log(0.25)) / 2;  // the 255 pixel does not count
  EXPECT_NEAR(cross_entropy_map(logits, labels, torch::tensor({true, false})).item<double>(), expected, 1e-12);
  expect_no_gradient_zero(cross_entropy_map(logits, torch::full({2, 1, 3}, 255, torch::kLong), all(2)));
  expect_no_gradient_zero(cross_entropy_map(logits, labels, none(2)));
}

// The reference: ATen's upsampling, log-softmax and NLL, in double.
torch::Tensor upsampled_reference(const torch::Tensor& logits, const torch::Tensor& labels,
                                  const torch::Tensor& present) {
  const std::vector<int64_t> size = {labels.size(1), labels.size(2)};
  return cross_entropy_map(torch::upsample_bilinear2d(logits.to(torch::kDouble), size, false), labels, present);
}

TEST(CrossEntropyUpsampled, MatchesUpsampleThenCrossEntropyWithGradients) {
  torch::manual_seed(0);
  // Integer and fractional scales, a class count that is not a multiple of 8, upsampling and downsampling.
  const std::vector<std::array<int64_t, 5>> shapes = {{3, 19, 7, 9, 4}, {2, 150, 14, 14, 4}, {2, 5, 6, 10, 3}};
  const std::vector<std::array<int64_t, 2>> outputs = {{30, 37}, {56, 56}, {4, 7}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto [b, c, h, w, scale] = shapes[i];
    const auto [out_h, out_w] = outputs[i];
    const auto logits = (torch::randn({b, c, h, w}) * scale).requires_grad_();
    auto labels = torch::randint(0, c, {b, out_h, out_w}, torch::kLong);
    labels.masked_fill_(torch::rand({b, out_h, out_w}) < 0.3, 255);  // void pixels
    labels[0].slice(0, 0, 2).fill_(255);                              // whole void rows
    const auto present = torch::ones({b}, torch::kBool);
    present[b - 1] = false;  // an unlabelled sample
    const auto logits_double = logits.detach().to(torch::kDouble).requires_grad_();
    const auto expected = upsampled_reference(logits_double, labels, present);
    const auto fused = cross_entropy_upsampled(logits, labels, present);
    EXPECT_NEAR(fused.item<double>(), expected.item<double>(), 1e-5 * expected.item<double>()) << i;
    (fused * 3).backward();
    (expected * 3).backward();
    const double scale_of_grad = logits_double.grad().abs().max().item<double>();
    EXPECT_GT(scale_of_grad, 0);
    EXPECT_LE((logits.grad().to(torch::kDouble) - logits_double.grad()).abs().max().item<double>(),
              1e-5 * scale_of_grad)
        << i;
    EXPECT_EQ(logits.grad()[b - 1].abs().max().item<float>(), 0.0f) << "unlabelled sample got a gradient";
  }
}

TEST(CrossEntropyUpsampled, NothingLabelledGivesZeroAndBadLabelsNameTheValue) {
  const auto logits = torch::randn({2, 4, 3, 3}, torch::requires_grad());
  expect_no_gradient_zero(cross_entropy_upsampled(logits, torch::full({2, 6, 6}, 255, torch::kLong), all(2)));
  expect_no_gradient_zero(cross_entropy_upsampled(logits, torch::zeros({2, 6, 6}, torch::kLong), none(2)));
  auto labels = torch::zeros({2, 6, 6}, torch::kLong);
  labels[1][2][3] = 4;
  try {
    cross_entropy_upsampled(logits, labels, all(2));
    ADD_FAILURE() << "label 4 of 4 classes accepted";
  } catch (const must::Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 4 is outside [0, 4)"), std::string::npos) << e.what();
  }
}

TEST(CrossEntropyUpsampled, OtherTypesTakeTheReferencePath) {
  const auto logits = torch::randn({1, 3, 2, 2}, torch::kDouble);
  const auto labels = torch::randint(0, 3, {1, 5, 5}, torch::kLong);
  EXPECT_NEAR(cross_entropy_upsampled(logits, labels, all(1)).item<double>(),
              upsampled_reference(logits, labels, all(1)).item<double>(), 1e-12);
}

TEST(DepthL1, AveragesOverValidPixelsOnly) {
  const auto prediction = torch::tensor({1.0, 2.0, 3.0, 4.0}).view({1, 1, 2, 2});
  const auto target = torch::tensor({1.5, 0.0, 2.0, 4.0}).view({1, 1, 2, 2});  // 0 = invalid
  EXPECT_NEAR(depth_l1(prediction, target, all(1)).item<double>(), (0.5 + 1.0 + 0.0) / 3, 1e-6);
  expect_no_gradient_zero(depth_l1(prediction, torch::zeros_like(target), all(1)));
}

TEST(DepthSilog, HandComputedAndScaleInvariantAtLambdaOne) {
  const auto prediction = torch::tensor({1.0, 2.0, 4.0}, torch::kDouble).view({1, 1, 1, 3});
  const auto target = torch::tensor({1.0, 1.0, 1.0}, torch::kDouble).view({1, 1, 1, 3});
  // e = (0, ln 2, ln 4): mean e^2 = 5 ln^2 2 / 3, mean e = ln 2.
  const double l2 = std::log(2.0);
  EXPECT_NEAR(depth_silog(prediction, target, all(1), 0.85).item<double>(),
              std::sqrt(5 * l2 * l2 / 3 - 0.85 * l2 * l2), 1e-12);
  // With lambda = 1 a global scale costs nothing.
  EXPECT_NEAR(depth_silog(target * 3, target, all(1), 1.0).item<double>(), 0.0, 1e-6);
  expect_no_gradient_zero(depth_silog(prediction, target, none(1)));
}

TEST(DepthSsi, FitsScaleAndShiftPerImage) {
  // g = 2 d + 1 exactly: zero loss; the second image is invalid except one pixel.
  const auto d = torch::tensor({1.0, 2.0, 3.0, 5.0}, torch::kDouble).view({1, 1, 2, 2});
  EXPECT_NEAR(depth_ssi(d, 2 * d + 1, all(1)).item<double>(), 0.0, 1e-9);
  // d = (0, 1, 2), g = (3, 5, 4): cov(d, g) = 1, var(d) = 2 -> s = 1/2, t = 4 - 1/2 = 7/2; fitted (3.5, 4, 4.5),
  // residuals (1/2, 1, 1/2) -> mean 2/3.
  const auto d2 = torch::tensor({1e-9, 1.0, 2.0}, torch::kDouble).view({1, 1, 1, 3});
  const auto g2 = torch::tensor({3.0, 5.0, 4.0}, torch::kDouble).view({1, 1, 1, 3});
  EXPECT_NEAR(depth_ssi(d2, g2, all(1)).item<double>(), 2.0 / 3, 1e-6);
  // A constant prediction keeps s = 1 and fits the shift: g - d = (1, 3) -> t = 2 -> residuals 1, 1.
  const auto flat = torch::tensor({2.0, 2.0}, torch::kDouble).view({1, 1, 1, 2});
  EXPECT_NEAR(depth_ssi(flat, torch::tensor({3.0, 5.0}, torch::kDouble).view({1, 1, 1, 2}), all(1)).item<double>(), 1.0,
              1e-9);
  expect_no_gradient_zero(depth_ssi(d, torch::zeros_like(d), all(1)));
}

// ssi_inverse: labels of inverse relative depth (disparity up to scale and shift) cost nothing for the depth d
// whose 1 / d they are an affine function of; d itself as the label does cost.
TEST(DepthSsiInverse, FitsScaleAndShiftOfTheInverse) {
  const auto loss = make_task_loss(Task::kDepth, {"ssi_inverse"});
  const auto d = torch::tensor({1.0, 2.0, 4.0, 5.0}, torch::kDouble).view({1, 1, 2, 2});
  const structures::TaskTargets disparity{3 / d + 0.5, all(1), {}}, depth{d, all(1), {}};
  EXPECT_NEAR((*loss)(d, disparity).at("loss/depth/ssi_inverse").item<double>(), 0.0, 1e-9);
  EXPECT_GT((*loss)(d, depth).at("loss/depth/ssi_inverse").item<double>(), 0.1);
}

TEST(NormalCosine, OneMinusCosineOverValidPixels) {
  // Pixel 0: same direction (0); pixel 1: perpendicular (1); pixel 2: invalid target.
  const auto prediction = torch::tensor({{1.0, 1.0, 1.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}}).view({1, 3, 1, 3});
  const auto target = torch::tensor({{2.0, 0.0, 0.0}, {0.0, 5.0, 0.0}, {0.0, 0.0, 0.0}}).view({1, 3, 1, 3});
  // target vectors per pixel: (2,0,0), (0,5,0), (0,0,0); prediction (1,0,0), (1,0,0), (1,0,0).
  EXPECT_NEAR(normal_cosine(prediction, target, all(1)).item<double>(), 0.5, 1e-6);
  expect_no_gradient_zero(normal_cosine(prediction, torch::zeros_like(target), all(1)));
}

TEST(LossRegistry, DefaultsFromTheTaskTableAndChecksTheTarget) {
  structures::TaskTargets targets{torch::tensor({1.0, 0.0}).view({1, 2}), all(1), {}};
  const auto loss = make_task_loss(Task::kClassification, {});
  const LossDict terms = (*loss)(torch::zeros({1, 2}), targets);
  ASSERT_EQ(terms.count("loss/classification/soft_cross_entropy"), 1u);
  EXPECT_NEAR(terms.at("loss/classification/soft_cross_entropy").item<double>(), std::log(2.0), 1e-6);
  EXPECT_THROW(make_task_loss(Task::kNormals, {"l1"}), ConfigError);
  EXPECT_THROW(make_task_loss(Task::kDepth, {"huber"}), ConfigError);
}

// Partial labels (docs/architecture.md): a batch where only some samples carry the task gives the loss of those samples
// alone, for every loss of every task with tensor targets (its term and its gradient).
TEST(PartialLabels, ABatchWithSomeSamplesLabelledGivesTheLossOfThoseSamplesAlone) {
  const std::vector<std::pair<Task, std::string>> losses = {{Task::kClassification, "soft_cross_entropy"},
                                                            {Task::kSegmentation, "cross_entropy"},
                                                            {Task::kDepth, "l1"},
                                                            {Task::kDepth, "silog"},
                                                            {Task::kDepth, "ssi"},
                                                            {Task::kDepth, "ssi_inverse"},
                                                            {Task::kNormals, "cosine"}};
  torch::manual_seed(3);
  const torch::Tensor present = torch::tensor({true, false, true, false});
  const torch::Tensor kept = torch::tensor({int64_t(0), int64_t(2)});
  for (const auto& [task, name] : losses) {
    torch::Tensor prediction, values;
    switch (task_spec(task).target) {
      case TargetKind::kClassVector:
        prediction = torch::randn({4, 5});
        values = torch::softmax(torch::randn({4, 5}), 1);
        break;
      case TargetKind::kClassMap:
        prediction = torch::randn({4, 5, 6, 7});
        values = torch::randint(0, 5, {4, 6, 7}, torch::kLong);
        values[0][0][0] = int64_t(task_spec(task).ignore_value);
        break;
      case TargetKind::kFloatMap:
        prediction = torch::rand({4, 1, 6, 7}) + 0.5;
        values = torch::rand({4, 1, 6, 7}) * 3 + 0.5;
        values[2][0][1][1] = 0;  // an invalid pixel
        break;
      default:
        prediction = torch::randn({4, 3, 6, 7});
        values = torch::nn::functional::normalize(torch::randn({4, 3, 6, 7}),
                                                  torch::nn::functional::NormalizeFuncOptions().dim(1));
    }
    const auto loss = make_task_loss(task, {name});
    const std::string key = loss_key(task, name);
    const torch::Tensor p_all = prediction.clone().requires_grad_(true);
    const torch::Tensor p_some = prediction.index_select(0, kept).clone().requires_grad_(true);
    const torch::Tensor partial = (*loss)(p_all, {values, present, {}}).at(key);
    const torch::Tensor alone =
        (*loss)(p_some, {values.index_select(0, kept), torch::ones({2}, torch::kBool), {}}).at(key);
    EXPECT_NEAR(partial.item<double>(), alone.item<double>(), 1e-6 * std::abs(alone.item<double>())) << key;
    partial.backward();
    alone.backward();
    EXPECT_TRUE(torch::allclose(p_all.grad().index_select(0, kept), p_some.grad(), 1e-5, 1e-7)) << key;
    EXPECT_EQ(p_all.grad().index_select(0, torch::tensor({int64_t(1), int64_t(3)})).abs().max().item<double>(), 0.0)
        << key << ": an unlabelled sample got a gradient";
  }
}

}  // namespace
}  // namespace must::losses
