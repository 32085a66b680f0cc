#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/models/batch_norm.h"

namespace must::models {
namespace {

double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Output, running statistics and gradients of batch_norm_training against ATen's batch norm (+ ReLU) in double.
TEST(BatchNormTraining, MatchesATenWithAndWithoutRelu) {
  torch::manual_seed(0);
  for (bool relu : {false, true}) {
    // A plane size that is not a multiple of 8, and channels whose mean is 100x their spread.
    const auto offset = torch::tensor({0.0f, 300.0f, -2.0f, 0.5f, 1000.0f}).view({1, 5, 1, 1});
    const auto input =
        (torch::randn({3, 5, 7, 9}) * torch::tensor({1.0f, 3.0f, 0.1f, 2.0f, 10.0f}).view({1, 5, 1, 1}) + offset);
    const auto weight = torch::rand({5}) + 0.5, bias = torch::randn({5});
    const auto upstream = torch::randn({3, 5, 7, 9});

    auto x = input.clone().requires_grad_(), w = weight.clone().requires_grad_(), b = bias.clone().requires_grad_();
    auto mean = torch::full({5}, 0.5f), var = torch::full({5}, 2.0f);
    const auto out = batch_norm_training(x, w, b, mean, var, 0.1, 1e-5, relu);
    (out * upstream).sum().backward();

    auto xd = input.to(torch::kDouble).requires_grad_(), wd = weight.to(torch::kDouble).requires_grad_();
    auto bd = bias.to(torch::kDouble).requires_grad_();
    auto mean_d = torch::full({5}, 0.5, torch::kDouble), var_d = torch::full({5}, 2.0, torch::kDouble);
    auto expected = torch::batch_norm(xd, wd, bd, mean_d, var_d, true, 0.1, 1e-5, false);
    if (relu) expected = expected.relu();
    (expected * upstream.to(torch::kDouble)).sum().backward();

    EXPECT_LE(max_abs_difference(out, expected), 1e-4) << relu;
    EXPECT_LE(max_abs_difference(mean, mean_d), 1e-6 * 1000) << relu;
    EXPECT_LE(max_abs_difference(var, var_d), 1e-5 * var_d.abs().max().item<double>()) << relu;
    EXPECT_LE(max_abs_difference(x.grad(), xd.grad()), 1e-4 * xd.grad().abs().max().item<double>()) << relu;
    EXPECT_LE(max_abs_difference(w.grad(), wd.grad()), 1e-4 * wd.grad().abs().max().item<double>()) << relu;
    EXPECT_LE(max_abs_difference(b.grad(), bd.grad()), 1e-4 * bd.grad().abs().max().item<double>()) << relu;
    if (relu) {
      EXPECT_EQ(out.min().item<float>(), 0.0f);
    }
  }
}

TEST(BatchNormTraining, ModuleUsesBatchStatisticsInTrainingAndRunningOnesInEval) {
  torch::manual_seed(0);
  BatchNorm2d norm(BatchNorm2dOptions(4));
  const auto x = torch::randn({2, 4, 5, 5}) * 3 + 1;
  norm->train();
  const auto trained = norm->forward_relu(x);
  const auto reference = torch::batch_norm(x, norm->weight, norm->bias, {}, {}, true, 0.1, 1e-5, false).relu();
  EXPECT_LE(max_abs_difference(trained, reference), 1e-5);
  EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), 1);
  norm->eval();
  const auto evaluated = norm->forward(x);
  const auto expected =
      torch::batch_norm(x, norm->weight, norm->bias, norm->running_mean, norm->running_var, false, 0.1, 1e-5, false);
  EXPECT_TRUE(torch::allclose(evaluated, expected));
  EXPECT_EQ(norm->num_batches_tracked.item<int64_t>(), 1);
}

TEST(BatchNormTraining, OneValuePerChannelIsAnError) {
  EXPECT_THROW(
      batch_norm_training(torch::randn({1, 3, 1, 1}), torch::ones({3}), torch::zeros({3}), {}, {}, 0.1, 1e-5, false),
      std::exception);
}

}  // namespace
}  // namespace must::models
