#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "must/ops/box_coder.h"
#include "must/ops/matcher.h"
#include "must/ops/sampler.h"

namespace must::ops {
namespace {

TEST(BoxCoder, EncodeHandComputedAndDecodeInverts) {
  // Proposal centre (5, 5), size 10 x 10; ground truth centre (6, 4), size 20 x 5.
  const auto proposal = torch::tensor({{0.0, 0.0, 10.0, 10.0}}, torch::kDouble);
  const auto truth = torch::tensor({{-4.0, 1.5, 16.0, 6.5}}, torch::kDouble);
  const BoxCoder coder({10, 10, 5, 5});
  const auto targets = coder.encode(truth, proposal);
  EXPECT_NEAR(targets[0][0].item<double>(), 10 * (6.0 - 5) / 10, 1e-12);
  EXPECT_NEAR(targets[0][1].item<double>(), 10 * (4.0 - 5) / 10, 1e-12);
  EXPECT_NEAR(targets[0][2].item<double>(), 5 * std::log(2.0), 1e-12);
  EXPECT_NEAR(targets[0][3].item<double>(), 5 * std::log(0.5), 1e-12);
  EXPECT_TRUE(torch::allclose(coder.decode(targets, proposal), truth, 1e-9, 1e-9));
  // Several boxes per row (one per class) decode independently.
  const auto two = coder.decode(torch::cat({targets, torch::zeros({1, 4}, torch::kDouble)}, 1), proposal);
  EXPECT_TRUE(torch::allclose(two, torch::cat({truth, proposal}, 1), 1e-9, 1e-9));
}

TEST(BoxCoder, DecodeClampsHugeSizeDeltas) {
  const BoxCoder coder;
  const auto decoded = coder.decode(torch::tensor({{0.0, 0.0, 100.0, 0.0}}, torch::kDouble),
                                    torch::tensor({{0.0, 0.0, 16.0, 16.0}}, torch::kDouble));
  EXPECT_NEAR((decoded[0][2] - decoded[0][0]).item<double>(), 1000.0, 1e-6);  // 16 * exp(log(1000 / 16))
}

TEST(Matcher, ThresholdsAndLowQualityMatches) {
  // 2 ground truths x 4 predictions.
  const auto iou = torch::tensor({{0.9, 0.5, 0.1, 0.2}, {0.1, 0.6, 0.35, 0.2}});
  const Matcher strict(0.7, 0.3, false);
  EXPECT_TRUE(torch::equal(strict(iou), torch::tensor({0, -2, -2, -1}, torch::kLong)));
  // Ground truth 1's best prediction (1, IoU 0.6) becomes its match despite being under 0.7.
  const Matcher lenient(0.7, 0.3, true);
  EXPECT_TRUE(torch::equal(lenient(iou), torch::tensor({0, 1, -2, -1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(strict(torch::zeros({0, 3})), torch::full({3}, -1, torch::kLong)));
}

TEST(Matcher, IgnoreRegionsMakeNeitherPositivesNorNegatives) {
  // Ground truth 1 is a crowd box: prediction 2 overlaps it at 0.8 but only 0.1 the real box.
  const auto iou = torch::tensor({{0.9, 0.1, 0.1, 0.0}, {0.0, 0.0, 0.8, 0.2}});
  const Matcher matcher(0.7, 0.3, true);
  const auto matches = matcher(iou, torch::tensor({false, true}));
  EXPECT_TRUE(torch::equal(matches, torch::tensor({0, -1, -2, -1}, torch::kLong)));
}

// Labels: >= 1 positive, 0 negative, < 0 never sampled.
TEST(BalancedSampler, FirstInIndexOrderWhenNotRandom) {
  const auto labels = torch::tensor({1, 0, -1, 2, 0, 0, 1}, torch::kLong);
  BalancedSampler sampler(4, 0.5, /*random=*/false);
  const auto [positive, negative] = sampler(labels);
  EXPECT_TRUE(torch::equal(positive, torch::tensor({1, 0, 0, 1, 0, 0, 0}).to(torch::kBool)));
  EXPECT_TRUE(torch::equal(negative, torch::tensor({0, 1, 0, 0, 1, 0, 0}).to(torch::kBool)));
  // Too few positives: negatives fill the batch.
  const auto [few_positive, more_negative] = BalancedSampler(4, 0.75, false)(torch::tensor({0, 0, 1, 0, 0}));
  EXPECT_EQ(few_positive.sum().item<int64_t>(), 1);
  EXPECT_EQ(more_negative.sum().item<int64_t>(), 3);
}

TEST(BalancedSampler, RandomDrawsTheRightCountsFromTheRightCandidates) {
  torch::manual_seed(3);
  const auto labels = torch::randint(-1, 3, {1000}, torch::kLong);
  const auto [positive, negative] = BalancedSampler(256, 0.25)(labels);
  EXPECT_EQ(positive.sum().item<int64_t>(), 64);
  EXPECT_EQ(negative.sum().item<int64_t>(), 192);
  EXPECT_TRUE((labels.masked_select(positive) >= 1).all().item<bool>());
  EXPECT_TRUE((labels.masked_select(negative) == 0).all().item<bool>());
  // Not simply the first ones.
  EXPECT_GT(positive.nonzero().max().item<int64_t>(), (labels >= 1).nonzero()[63].item<int64_t>());
}

}  // namespace
}  // namespace must::ops
