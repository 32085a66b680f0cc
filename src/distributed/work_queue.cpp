#include "must/distributed/work_queue.h"

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <thread>

#include "must/core/check.h"

namespace must::distributed {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until the counter `key` reaches `count`, polling (the store's own wait() has no "at least").
void wait_for_count(c10d::Store& store, const std::string& key, int64_t count, std::chrono::milliseconds timeout,
                    const std::string& what) {
  const auto start = Clock::now();
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    const int64_t now = store.add(key, 0);
    if (now >= count) return;
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (waited >= timeout) {
      MUST_THROW(Error, what, ": ", now, " of ", count, " ranks arrived in ", waited.count() / 1000.0,
                 " s (the timeout); a rank died or is stuck");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

}  // namespace

c10::intrusive_ptr<c10d::Store> connect_store(const LaunchEnv& launch, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = uint16_t(launch.master_port);
  // torchrun's agent already listens there: every rank is a client, and the agent's store knows no worker count.
  options.isServer = launch.rank == 0 && !launch.agent_store;
  if (!launch.agent_store) options.numWorkers = size_t(launch.world_size);
  options.waitWorkers = !launch.agent_store;
  options.timeout = timeout;
  spdlog::info("rank {} of {}: meeting at {}:{}{} (timeout {} s)", launch.rank, launch.world_size, launch.master_addr,
               launch.master_port, launch.agent_store ? ", torchrun's store" : "", timeout.count() / 1000.0);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
  } catch (const std::exception& e) {
    MUST_THROW(Error, "rank ", launch.rank, ": the ranks did not meet at ", launch.master_addr, ":", launch.master_port,
               " within ", timeout.count() / 1000.0, " s: ", e.what());
  }
  if (!launch.agent_store) return store;
  // The agent's store outlives a restart of the group: each attempt keeps its keys apart, as PyTorch's workers do.
  return c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(launch.restarts), store);
}

void barrier(c10d::Store& store, const std::string& name, int rank, int world_size, std::chrono::milliseconds timeout) {
  const std::string key = "barrier/" + name;
  store.add(key, 1);
  wait_for_count(store, key, world_size, timeout, "barrier '" + name + "'");
  store.add(key + "/seen", 1);
  if (rank == 0) wait_for_count(store, key + "/seen", world_size, timeout, "barrier '" + name + "' (leaving)");
}

int64_t StoreWorkQueue::claim() { return store_->add("queue/" + name_ + "/next", 1) - 1; }

void StoreWorkQueue::finish_and_wait() {
  barrier(*store_, "queue/" + name_ + "/finished", rank_, world_size_, timeout_);
}

}  // namespace must::distributed
