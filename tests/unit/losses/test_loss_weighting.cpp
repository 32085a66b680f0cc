#include "must/losses/loss_weighting.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"

namespace must::losses {
namespace {

std::map<Task, torch::Tensor> two_losses() {
  return {{Task::kDepth, torch::tensor(2.0)}, {Task::kNormals, torch::tensor(3.0)}};
}

TEST(LossWeighting, FixedUsesGivenWeightsAndOneOtherwise) {
  WeightingOptions options;
  options.weights = {{Task::kDepth, 0.5}};
  auto weighting = weighting_registry().create("fixed", options);
  EXPECT_DOUBLE_EQ(weighting->forward(two_losses()).item<double>(), 0.5 * 2 + 3);
  // The weights in force (logged) name every task learnt.
  options.tasks = {Task::kDepth, Task::kNormals};
  EXPECT_EQ(weighting_registry().create("fixed", options)->weights(),
            (std::map<Task, double>{{Task::kDepth, 0.5}, {Task::kNormals, 1.0}}));
  options.weights[Task::kSegmentation] = 2.0;  // not learnt: a mistake in the config
  EXPECT_THROW(weighting_registry().create("fixed", options), ConfigError);
}

TEST(LossWeighting, PaperRuleFromBatchSizesAndLearningRates) {
  WeightingOptions options;
  options.tasks = {Task::kDepth, Task::kNormals};
  options.teacher_batch_size = {{Task::kDepth, 64}, {Task::kNormals, 128}};
  options.teacher_lr = {{Task::kDepth, 0.1}, {Task::kNormals, 0.4}};
  options.student_batch_size = 256;
  options.student_lr = 0.2;
  auto weighting = weighting_registry().create("paper", options);
  // w = (b_s lr_i) / (b_i lr_s): depth 256*0.1/(64*0.2) = 2; normals 256*0.4/(128*0.2) = 4.
  EXPECT_DOUBLE_EQ(weighting->weights().at(Task::kDepth), 2.0);
  EXPECT_DOUBLE_EQ(weighting->weights().at(Task::kNormals), 4.0);
  EXPECT_DOUBLE_EQ(weighting->forward(two_losses()).item<double>(), 2 * 2 + 4 * 3);
  options.teacher_lr.erase(Task::kNormals);
  EXPECT_THROW(weighting_registry().create("paper", options), ConfigError);
}

TEST(LossWeighting, UncertaintyLearnsLogVariances) {
  WeightingOptions options;
  options.tasks = {Task::kDepth, Task::kNormals};
  auto weighting = weighting_registry().create("uncertainty", options);
  // s = 0: total = sum L / 2.
  EXPECT_DOUBLE_EQ(weighting->forward(two_losses()).item<double>(), (2 + 3) / 2.0);
  EXPECT_DOUBLE_EQ(weighting->weights().at(Task::kDepth), 0.5);
  // d/ds (L / (2 e^s) + s / 2) at s = 0 is (1 - L) / 2.
  auto total = weighting->forward(two_losses());
  total.backward();
  const auto grad = weighting->parameters()[0].grad();
  EXPECT_NEAR(grad[0].item<double>(), (1 - 2.0) / 2, 1e-9);
  EXPECT_NEAR(grad[1].item<double>(), (1 - 3.0) / 2, 1e-9);
  {
    torch::NoGradGuard no_grad;
    weighting->parameters()[0].fill_(std::log(2.0));
  }
  EXPECT_NEAR(weighting->weights().at(Task::kNormals), 0.25, 1e-6);  // float32 parameter
}

TEST(LossWeighting, UnknownNameListsKnownOnes) {
  try {
    weighting_registry().create("gradnorm", WeightingOptions());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fixed, paper, uncertainty"), std::string::npos);
  }
}

}  // namespace
}  // namespace must::losses
