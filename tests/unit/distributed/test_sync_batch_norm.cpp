// Synchronised batch norm (models/batch_norm.h) over two ranks of a Gloo process group: each rank's half of a
// batch normalised as one process normalises the whole batch, forward and backward, and the running statistics
// move as one process's do.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <mutex>

#include "must/models/batch_norm.h"
#include "run_ranks.h"

namespace must::distributed {
namespace {

class GroupSum : public models::CrossRankSum {
 public:
  explicit GroupSum(ProcessGroup& group) : group_(group) {}
  torch::Tensor sum(const torch::Tensor& local) override {
    torch::Tensor total = local.clone();
    group_.all_reduce_sum(total, "test sums").wait();
    return total;
  }

 private:
  ProcessGroup& group_;
};

struct Case {
  torch::Tensor input, output_weights, weight, bias;
  Case() {
    torch::manual_seed(7);
    input = torch::randn({8, 3, 5, 4}) * 3 + 10;  // far from the running mean (0): the shift matters
    output_weights = torch::randn({8, 3, 5, 4});
    weight = torch::rand({3}) + 0.5;
    bias = torch::randn({3});
  }
};

models::BatchNorm2d fresh_norm(const Case& c) {
  models::BatchNorm2d norm(models::BatchNorm2dOptions(3));
  torch::NoGradGuard no_grad;
  norm->weight.copy_(c.weight);
  norm->bias.copy_(c.bias);
  return norm;
}

struct Result {
  torch::Tensor output, input_grad, weight_grad, bias_grad, running_mean, running_var;
};

// Two steps (the second normalises about the first's running mean); the loss is a fixed weighted sum of the
// outputs, so the ranks' losses add up to the whole batch's.
Result run(const Case& c, models::BatchNorm2d norm, int64_t begin, int64_t length) {
  Result r;
  for (int step = 0; step < 2; ++step) {
    torch::Tensor x = c.input.narrow(0, begin, length).clone().set_requires_grad(true);
    norm->zero_grad();
    r.output = norm->forward_relu(x);
    (r.output * c.output_weights.narrow(0, begin, length)).sum().backward();
    r.input_grad = x.grad();
  }
  r.weight_grad = norm->weight.grad().clone();
  r.bias_grad = norm->bias.grad().clone();
  r.running_mean = norm->running_mean.clone();
  r.running_var = norm->running_var.clone();
  return r;
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5)) << what << ": largest difference " << (a - b).abs().max().item<double>();
}

TEST(SyncBatchNorm, EachRanksHalfIsNormalisedAsTheWholeBatchForwardAndBackward) {
  const Case c;
  const Result whole = run(c, fresh_norm(c), 0, 8);
  std::vector<Result> halves(2);
  std::mutex mutex;
  run_ranks(2, [&](int rank, ProcessGroup& group) {
    models::BatchNorm2d norm = fresh_norm(c);
    norm->synchronize(std::make_shared<GroupSum>(group));
    Result r = run(c, norm, 4 * rank, 4);
    std::lock_guard<std::mutex> lock(mutex);
    halves[size_t(rank)] = r;
  });
  for (int64_t rank = 0; rank < 2; ++rank) {
    const Result& half = halves[size_t(rank)];
    expect_close(half.output, whole.output.narrow(0, 4 * rank, 4), "output");
    expect_close(half.input_grad, whole.input_grad.narrow(0, 4 * rank, 4), "input gradient");
    expect_close(half.running_mean, whole.running_mean, "running mean");
    expect_close(half.running_var, whole.running_var, "running variance");
  }
  // The affine parameters' gradients are each rank's part: summed over the ranks, the whole batch's.
  expect_close(halves[0].weight_grad + halves[1].weight_grad, whole.weight_grad, "weight gradient");
  expect_close(halves[0].bias_grad + halves[1].bias_grad, whole.bias_grad, "bias gradient");
  // Without synchronisation a half is normalised by its own statistics: the test would tell.
  const Result alone = run(c, fresh_norm(c), 0, 4);
  EXPECT_FALSE(torch::allclose(alone.output, whole.output.narrow(0, 0, 4), 1e-4, 1e-5));
}

TEST(SyncBatchNorm, FrozenLayersStayUnsynchronised) {
  torch::nn::Sequential net(models::BatchNorm2d(models::BatchNorm2dOptions(2)),
                            models::BatchNorm2d(models::BatchNorm2dOptions(2).frozen(true)));
  struct NoSum : models::CrossRankSum {
    torch::Tensor sum(const torch::Tensor& local) override { return local.clone(); }
  };
  EXPECT_EQ(models::synchronize_batch_norms(*net, std::make_shared<NoSum>()), 1);
  EXPECT_TRUE(net[0]->as<models::BatchNorm2d>()->synchronized());
  EXPECT_FALSE(net[1]->as<models::BatchNorm2d>()->synchronized());
}

}  // namespace
}  // namespace must::distributed
