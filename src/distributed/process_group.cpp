#include "must/distributed/process_group.h"

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef MUST_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "must/core/check.h"
#include "must/distributed/work_queue.h"

namespace must::distributed {
namespace {

bool is_loopback(const std::string& address) {
  return address == "localhost" || address.rfind("127.", 0) == 0 || address == "::1";
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

struct ProcessGroup::Backends {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef MUST_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  // Calls `collective` with the backend for `tensor`'s device. A generic callable rather than a pointer to a common
  // base: c10d's backends derive from c10d::Backend from PyTorch 2.0 on, from c10d::ProcessGroup in 1.13.
  // The result waits with the run's `timeout` on the host (Gloo), or without one for NCCL: its wait only orders
  // the caller's CUDA stream after the collective, and a wait given a timeout blocks the host from PyTorch 2.6 on;
  // NCCL's watchdog ends the process when a collective runs out of the time its options give it.
  template <class Collective>
  Pending on(const torch::Tensor& tensor, Collective&& collective, std::string what, std::chrono::milliseconds timeout) {
#ifdef MUST_WITH_NCCL
    if (nccl && tensor.is_cuda()) return Pending(collective(*nccl), std::move(what), Pending::kStreamOrdered);
#endif
    (void)tensor;
    return Pending(collective(*gloo), std::move(what), timeout);
  }
};

ProcessGroup::Pending::Pending() = default;
ProcessGroup::Pending::Pending(c10::intrusive_ptr<c10d::Work> work, std::string what, std::chrono::milliseconds timeout)
    : work_(std::move(work)), what_(std::move(what)), timeout_(timeout) {}
ProcessGroup::Pending::Pending(Pending&&) noexcept = default;
ProcessGroup::Pending& ProcessGroup::Pending::operator=(Pending&&) noexcept = default;
ProcessGroup::Pending::~Pending() = default;

void ProcessGroup::Pending::wait() {
  if (!work_) return;
  try {
    if (timeout_ == kStreamOrdered) {
      work_->wait();
    } else {
      work_->wait(timeout_);
    }
  } catch (const std::exception& e) {
    const std::string within = timeout_ == kStreamOrdered ? "" : fmt::format(" within {} s", timeout_.count() / 1000.0);
    MUST_THROW(Error, what_, " did not complete across the ranks", within,
               " (a rank died, is stuck, or called other collectives): ", e.what());
  }
  work_.reset();
}

ProcessGroup::ProcessGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                           const std::string& master_addr, std::chrono::milliseconds timeout, const std::string& name,
                           torch::Device device)
    : store_(store),
      master_addr_(master_addr),
      device_(device),
      backends_(std::make_unique<Backends>()),
      rank_(rank),
      world_size_(world_size),
      timeout_(timeout) {
  MUST_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank ", rank, " outside a world of ", world_size);
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(master_addr));
  options->threads = 2;  // Gloo's own worker threads: one collective in flight while the next is queued
  try {
    backends_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>(name, store), rank, world_size, options);
  } catch (const std::exception& e) {
    MUST_THROW(Error, "rank ", rank, ": the Gloo process group of ", world_size, " ranks did not form within ",
               timeout.count() / 1000.0, " s: ", e.what());
  }
  if (device.is_cuda()) {
#ifdef MUST_WITH_NCCL
    // NCCL meets the other ranks lazily, at the first collective on a CUDA tensor (its communicator is per device).
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = timeout;  // NCCL's watchdog ends the process when a collective takes longer
    try {
      backends_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>(name + "/nccl", store), rank, world_size, nccl_options);
    } catch (const std::exception& e) {
      MUST_THROW(Error, "rank ", rank, ": the NCCL process group for ", device.str(), " could not be made: ", e.what());
    }
#else
    spdlog::warn("rank {}: this build has no NCCL (MUST_WITH_NCCL off): CUDA tensors go through Gloo", rank);
#endif
  }
  spdlog::info("rank {} of {}: {} process group {} formed", rank, world_size, backend_name(), name);
}

std::string ProcessGroup::backend_name() const {
#ifdef MUST_WITH_NCCL
  if (backends_->nccl) return "gloo+nccl";
#endif
  return "gloo";
}

std::unique_ptr<ProcessGroup> ProcessGroup::another(const std::string& name) const {
  MUST_CHECK(name != "process_group", "another process group needs a name of its own");
  return std::make_unique<ProcessGroup>(store_, rank_, world_size_, master_addr_, timeout_, name, device_);
}

ProcessGroup::~ProcessGroup() = default;

ProcessGroup::Pending ProcessGroup::all_reduce_sum(torch::Tensor tensor, const std::string& what) {
  std::vector<torch::Tensor> tensors = {std::move(tensor)};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  options.timeout = timeout_;
  return backends_->on(
      tensors[0], [&](auto& backend) { return backend.allreduce(tensors, options); }, "all-reduce of " + what, timeout_);
}

void ProcessGroup::broadcast(torch::Tensor tensor, int root, const std::string& what) {
  MUST_CHECK(root >= 0 && root < world_size_, "broadcast of ", what, ": root ", root, " outside a world of ",
             world_size_);
  std::vector<torch::Tensor> tensors = {std::move(tensor)};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  options.timeout = timeout_;
  backends_->on(tensors[0], [&](auto& backend) { return backend.broadcast(tensors, options); }, "broadcast of " + what,
                timeout_)
      .wait();
}

std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& tensor, const std::string& what) {
  std::vector<std::vector<torch::Tensor>> outputs(1);
  for (int r = 0; r < world_size_; ++r) outputs[0].push_back(torch::empty_like(tensor));
  std::vector<torch::Tensor> inputs = {tensor.contiguous()};
  c10d::AllgatherOptions options;
  options.timeout = timeout_;
  backends_->on(inputs[0], [&](auto& backend) { return backend.allgather(outputs, inputs, options); },
                "all-gather of " + what, timeout_)
      .wait();
  return outputs[0];
}

std::vector<std::string> ProcessGroup::all_gather_bytes(const std::string& bytes, const std::string& what) {
  const std::vector<torch::Tensor> sizes = all_gather(torch::tensor({int64_t(bytes.size())}), what + " (sizes)");
  int64_t longest = 0;
  for (const auto& size : sizes) longest = std::max(longest, size.item<int64_t>());
  torch::Tensor padded = torch::zeros({std::max<int64_t>(longest, 1)}, torch::kUInt8);
  std::memcpy(padded.data_ptr(), bytes.data(), bytes.size());
  const std::vector<torch::Tensor> gathered = all_gather(padded, what);
  std::vector<std::string> out;
  for (size_t r = 0; r < gathered.size(); ++r) {
    out.emplace_back(static_cast<const char*>(gathered[r].data_ptr()), size_t(sizes[r].item<int64_t>()));
  }
  return out;
}

void ProcessGroup::barrier(const std::string& what) {
  c10d::BarrierOptions options;
  options.timeout = timeout_;
  Pending(backends_->gloo->barrier(options), "barrier " + what, timeout_).wait();
}

std::map<std::string, double> mean_over_ranks(ProcessGroup& group, const std::map<std::string, double>& values,
                                              const std::string& what) {
  std::string text;
  for (const auto& [key, value] : values) text += key + "\t" + fmt::format("{}", value) + "\n";  // exact round trip
  std::map<std::string, std::pair<double, int>> sums;
  for (const std::string& rank_text : group.all_gather_bytes(text, what)) {
    size_t start = 0;
    while (start < rank_text.size()) {
      const size_t tab = rank_text.find('\t', start), end = rank_text.find('\n', start);
      auto& [sum, count] = sums[rank_text.substr(start, tab - start)];
      sum += std::stod(rank_text.substr(tab + 1, end - tab - 1));
      ++count;
      start = end + 1;
    }
  }
  std::map<std::string, double> out;
  for (const auto& [key, sum_count] : sums) out[key] = sum_count.first / sum_count.second;
  return out;
}

std::unique_ptr<ProcessGroup> join_process_group(const LaunchEnv& launch, std::chrono::milliseconds timeout,
                                                 torch::Device device) {
  if (launch.world_size <= 1) return nullptr;
  return std::make_unique<ProcessGroup>(connect_store(launch, timeout), launch.rank, launch.world_size,
                                        launch.master_addr, timeout, "process_group", device);
}

}  // namespace must::distributed
