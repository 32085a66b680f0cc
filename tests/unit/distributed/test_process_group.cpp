#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

#include "must/core/check.h"
#include "run_ranks.h"

namespace must::distributed {
namespace {

using std::chrono::milliseconds;

TEST(ProcessGroup, AllReduceBroadcastGatherAndBarrierAcrossTwoRanks) {
  std::vector<torch::Tensor> summed(2), broadcast(2);
  std::vector<std::vector<torch::Tensor>> gathered(2);
  run_ranks(2, [&](int rank, ProcessGroup& group) {
    EXPECT_EQ(group.rank(), rank);
    EXPECT_EQ(group.world_size(), 2);
    torch::Tensor a = torch::full({3, 4}, float(rank + 1)), b = torch::arange(5, torch::kDouble) * (rank + 1);
    // Two reductions in flight at once, waited for in the other order.
    ProcessGroup::Pending pending_a = group.all_reduce_sum(a, "a");
    ProcessGroup::Pending pending_b = group.all_reduce_sum(b, "b");
    pending_b.wait();
    pending_a.wait();
    EXPECT_TRUE(torch::equal(a, torch::full({3, 4}, 3.0f)));
    EXPECT_TRUE(torch::equal(b, torch::arange(5, torch::kDouble) * 3));
    summed[size_t(rank)] = a;
    torch::Tensor weights = torch::randn({7}).add_(rank * 100);
    group.broadcast(weights, /*root=*/1, "weights");
    broadcast[size_t(rank)] = weights;
    gathered[size_t(rank)] = group.all_gather(torch::tensor({int64_t(rank) * 10, int64_t(rank) * 10 + 1}), "pairs");
    // Strings of different lengths; loss maps with different keys.
    EXPECT_EQ(group.all_gather_bytes(std::string(size_t(rank) * 5, 'x'), "text"),
              (std::vector<std::string>{"", "xxxxx"}));
    std::map<std::string, double> losses = {{"loss/total", 1.0 + rank}, {"loss/depth/l1", 0.1}};
    if (rank == 1) losses["loss/detection/box"] = 0.75;
    EXPECT_EQ(mean_over_ranks(group, losses, "losses"),
              (std::map<std::string, double>{{"loss/total", 1.5}, {"loss/depth/l1", 0.1}, {"loss/detection/box", 0.75}}));
    group.barrier("end");
  });
  EXPECT_TRUE(torch::equal(broadcast[0], broadcast[1]));
  EXPECT_GT(broadcast[0].mean().item<double>(), 50);  // rank 1's values
  for (const auto& per_rank : gathered) {
    ASSERT_EQ(per_rank.size(), 2u);
    EXPECT_TRUE(torch::equal(per_rank[0], torch::tensor({int64_t(0), int64_t(1)})));
    EXPECT_TRUE(torch::equal(per_rank[1], torch::tensor({int64_t(10), int64_t(11)})));
  }
}

TEST(ProcessGroup, ARankThatLeavesFailsTheCollectiveNamingIt) {
  // Rank 1 forms the group, then never calls the all-reduce that rank 0 waits for.
  std::string message;
  run_ranks(2, [&](int rank, ProcessGroup& group) {
    if (rank == 1) {
      std::this_thread::sleep_for(milliseconds(1500));
      return;
    }
    ProcessGroup::Pending pending = group.all_reduce_sum(torch::ones({4}), "gradient bucket 3");
    try {
      pending.wait();
    } catch (const Error& e) {
      message = e.what();
    }
  });
  EXPECT_NE(message.find("all-reduce of gradient bucket 3"), std::string::npos) << message;
}

}  // namespace
}  // namespace must::distributed
