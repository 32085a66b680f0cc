// The ranks of a run as threads of one process: each connects to the same TCPStore (rank 0 hosts it) and forms
// the Gloo process group over loopback, as separate processes do.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "must/core/check.h"
#include "must/dist/process_group.h"
#include "must/dist/work_queue.h"

namespace must::dist {
namespace {

using std::chrono::milliseconds;

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Runs body(rank, group) on `world` threads, one rank each; rethrows the first failure.
void run_ranks(int world, const std::function<void(int, ProcessGroup&)>& body) {
  const int port = free_port();
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        LaunchEnv launch;
        launch.rank = rank;
        launch.world_size = world;
        launch.master_port = port;
        const auto store = connect_store(launch, milliseconds(20000));
        ProcessGroup group(store, rank, world, launch.master_addr, milliseconds(20000));
        body(rank, group);
      } catch (...) {
        errors[size_t(rank)] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

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
}  // namespace must::dist
