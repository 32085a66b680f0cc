#include "must/dist/process_group.h"

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "must/core/check.h"
#include "must/dist/work_queue.h"

namespace must::dist {
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

ProcessGroup::Pending::Pending() = default;
ProcessGroup::Pending::Pending(c10::intrusive_ptr<c10d::Work> work, std::string what, std::chrono::milliseconds timeout)
    : work_(std::move(work)), what_(std::move(what)), timeout_(timeout) {}
ProcessGroup::Pending::Pending(Pending&&) noexcept = default;
ProcessGroup::Pending& ProcessGroup::Pending::operator=(Pending&&) noexcept = default;
ProcessGroup::Pending::~Pending() = default;

void ProcessGroup::Pending::wait() {
  if (!work_) return;
  try {
    work_->wait(timeout_);
  } catch (const std::exception& e) {
    MUST_THROW(Error, what_, " did not complete across the ranks within ", timeout_.count() / 1000.0,
               " s (a rank died, is stuck, or called other collectives): ", e.what());
  }
  work_.reset();
}

ProcessGroup::ProcessGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size,
                           const std::string& master_addr, std::chrono::milliseconds timeout, const std::string& name)
    : store_(store), master_addr_(master_addr), rank_(rank), world_size_(world_size), timeout_(timeout) {
  MUST_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank ", rank, " outside a world of ", world_size);
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(master_addr));
  options->threads = 2;  // Gloo's own worker threads: one collective in flight while the next is queued
  try {
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>(name, store), rank, world_size, options);
  } catch (const std::exception& e) {
    MUST_THROW(Error, "rank ", rank, ": the Gloo process group of ", world_size, " ranks did not form within ",
               timeout.count() / 1000.0, " s: ", e.what());
  }
  spdlog::info("rank {} of {}: Gloo process group {} formed", rank, world_size, name);
}

std::unique_ptr<ProcessGroup> ProcessGroup::another(const std::string& name) const {
  MUST_CHECK(name != "process_group", "another process group needs a name of its own");
  return std::make_unique<ProcessGroup>(store_, rank_, world_size_, master_addr_, timeout_, name);
}

ProcessGroup::~ProcessGroup() = default;

ProcessGroup::Pending ProcessGroup::all_reduce_sum(torch::Tensor tensor, const std::string& what) {
  std::vector<torch::Tensor> tensors = {std::move(tensor)};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  options.timeout = timeout_;
  return Pending(group_->allreduce(tensors, options), "all-reduce of " + what, timeout_);
}

void ProcessGroup::broadcast(torch::Tensor tensor, int root, const std::string& what) {
  MUST_CHECK(root >= 0 && root < world_size_, "broadcast of ", what, ": root ", root, " outside a world of ",
             world_size_);
  std::vector<torch::Tensor> tensors = {std::move(tensor)};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  options.timeout = timeout_;
  Pending(group_->broadcast(tensors, options), "broadcast of " + what, timeout_).wait();
}

std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& tensor, const std::string& what) {
  std::vector<std::vector<torch::Tensor>> outputs(1);
  for (int r = 0; r < world_size_; ++r) outputs[0].push_back(torch::empty_like(tensor));
  std::vector<torch::Tensor> inputs = {tensor.contiguous()};
  c10d::AllgatherOptions options;
  options.timeout = timeout_;
  Pending(group_->allgather(outputs, inputs, options), "all-gather of " + what, timeout_).wait();
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
  Pending(group_->barrier(options), "barrier " + what, timeout_).wait();
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

std::unique_ptr<ProcessGroup> join_process_group(const LaunchEnv& launch, std::chrono::milliseconds timeout) {
  if (launch.world_size <= 1) return nullptr;
  return std::make_unique<ProcessGroup>(connect_store(launch, timeout), launch.rank, launch.world_size,
                                        launch.master_addr, timeout);
}

}  // namespace must::dist
