#include <gtest/gtest.h>
#include <torch/torch.h>

#include <mutex>

#include "must/distributed/gradient_reducer.h"
#include "run_ranks.h"

namespace must::distributed {
namespace {

// A trunk and two heads; `use_second` decides whether the second head takes part in the loss.
struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl() {
    trunk = register_module("trunk", torch::nn::Linear(6, 5));
    first = register_module("first", torch::nn::Linear(5, 2));
    second = register_module("second", torch::nn::Linear(5, 3));
    unused = register_module("unused", torch::nn::Linear(5, 1));
  }
  torch::Tensor loss(const torch::Tensor& x, const torch::Tensor& y, bool use_second) {
    const torch::Tensor h = torch::relu(trunk(x));
    torch::Tensor loss = (first(h) - y.narrow(1, 0, 2)).pow(2).mean();
    if (use_second) loss = loss + (second(h) - y.narrow(1, 2, 3)).pow(2).mean();
    return loss;
  }
  torch::nn::Linear trunk{nullptr}, first{nullptr}, second{nullptr}, unused{nullptr};
};
TORCH_MODULE(TinyNet);

constexpr int kSteps = 6;

// Each step's batch of 8 (drawn here, on one thread: the global generator is not for two ranks at once).
struct Data {
  std::vector<torch::Tensor> x, y;
  Data() {
    torch::manual_seed(1000);
    for (int step = 0; step < kSteps; ++step) {
      x.push_back(torch::randn({8, 6}));
      y.push_back(torch::randn({8, 5}));
    }
  }
  // Rank `part`'s half of step `step`'s batch.
  torch::Tensor inputs(int64_t step, int64_t part) const { return x[size_t(step)].narrow(0, 4 * part, 4); }
  torch::Tensor targets(int64_t step, int64_t part) const { return y[size_t(step)].narrow(0, 4 * part, 4); }
};

// The same initial network on every call (drawn under the caller's lock).
TinyNet fresh_net(uint64_t seed) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  torch::manual_seed(seed);
  return TinyNet();
}

std::vector<torch::Tensor> flat_parameters(const TinyNet& net) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net->parameters()) out.push_back(p.detach().clone());
  return out;
}

TEST(GradientReducer, RanksEndBitIdenticalAndEqualToOneProcessOnTheWholeBatch) {
  std::vector<std::vector<torch::Tensor>> per_rank(2);
  std::vector<size_t> buckets(2);
  const Data data;
  run_ranks(2, [&](int rank, ProcessGroup& group) {
    TinyNet net = fresh_net(uint64_t(rank));  // different initialisations: the broadcast makes them rank 0's
    std::vector<torch::Tensor> state = net->parameters();
    broadcast_from_root(group, state, "parameters");
    // Tiny buckets: several, launched from the hooks in order.
    GradientReducer reducer(group, net->parameters(), {/*bucket_bytes=*/64, /*first_bucket_bytes=*/32});
    buckets[size_t(rank)] = reducer.bucket_count();
    torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    for (int64_t step = 0; step < kSteps; ++step) {
      sgd.zero_grad();
      reducer.prepare();
      const torch::Tensor loss = net->loss(data.inputs(step, rank), data.targets(step, rank), /*use_second=*/true);
      loss.backward();
      EXPECT_FALSE(reducer.finish(std::isfinite(loss.item<double>())).any_rank_non_finite);
      sgd.step();
    }
    EXPECT_FALSE(net->unused->weight.grad().defined());  // no rank used it: no gradient, as in one process
    per_rank[size_t(rank)] = flat_parameters(net);
  });
  EXPECT_GT(buckets[0], 3u);
  TinyNet whole = fresh_net(0);
  torch::optim::SGD sgd(whole->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  for (int64_t step = 0; step < kSteps; ++step) {
    sgd.zero_grad();
    whole->loss(data.x[size_t(step)], data.y[size_t(step)], true).backward();
    sgd.step();
  }
  const std::vector<torch::Tensor> reference = flat_parameters(whole);
  ASSERT_EQ(per_rank[0].size(), reference.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_TRUE(torch::equal(per_rank[0][i], per_rank[1][i])) << "parameter " << i;
    const double relative = ((per_rank[0][i] - reference[i]).abs().max() / reference[i].abs().max()).item<double>();
    EXPECT_LE(relative, 1e-5) << "parameter " << i;
  }
}

TEST(GradientReducer, AHeadOneRankLeftOutIsAveragedWithZerosAndANonFiniteLossStopsEveryRank) {
  std::vector<torch::Tensor> second_grad(2), second_alone(2);
  std::vector<bool> non_finite(2);
  const Data data;
  run_ranks(2, [&](int rank, ProcessGroup& group) {
    TinyNet net = fresh_net(0);
    GradientReducer reducer(group, net->parameters(), {/*bucket_bytes=*/64, /*first_bucket_bytes=*/32});
    // Rank 1's batch has no label for the second head; rank 0's has.
    const bool use_second = rank == 0;
    {
      TinyNet alone = fresh_net(0);  // the same network; this rank's own gradient, without the reducer
      alone->loss(data.inputs(0, rank), data.targets(0, rank), use_second).backward();
      if (use_second) second_alone[size_t(rank)] = alone->second->weight.grad().clone();
    }
    reducer.prepare();
    net->loss(data.inputs(0, rank), data.targets(0, rank), use_second).backward();
    reducer.finish(true);
    second_grad[size_t(rank)] = net->second->weight.grad().clone();
    // A step where rank 1's loss is NaN: both ranks hear of it.
    reducer.prepare();
    torch::Tensor loss = net->loss(data.inputs(1, rank), data.targets(1, rank), true);
    if (rank == 1) loss = loss * std::numeric_limits<float>::quiet_NaN();
    loss.backward();
    non_finite[size_t(rank)] = reducer.finish(std::isfinite(loss.item<double>())).any_rank_non_finite;
  });
  EXPECT_TRUE(torch::equal(second_grad[0], second_grad[1]));
  EXPECT_TRUE(torch::allclose(second_grad[0], second_alone[0] / 2, 1e-6, 1e-7));
  EXPECT_TRUE(non_finite[0]);
  EXPECT_TRUE(non_finite[1]);
}

}  // namespace
}  // namespace must::distributed
