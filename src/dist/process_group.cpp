#include "must/dist/process_group.h"

#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <cstdlib>

#include "must/core/check.h"

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
                           const std::string& master_addr, std::chrono::milliseconds timeout)
    : rank_(rank), world_size_(world_size), timeout_(timeout) {
  MUST_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank ", rank, " outside a world of ", world_size);
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(master_addr));
  options->threads = 2;  // Gloo's own worker threads: one collective in flight while the next is queued
  try {
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("process_group", store), rank, world_size, options);
  } catch (const std::exception& e) {
    MUST_THROW(Error, "rank ", rank, ": the Gloo process group of ", world_size, " ranks did not form within ",
               timeout.count() / 1000.0, " s: ", e.what());
  }
  spdlog::info("rank {} of {}: Gloo process group formed", rank, world_size);
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

void ProcessGroup::barrier(const std::string& what) {
  c10d::BarrierOptions options;
  options.timeout = timeout_;
  Pending(group_->barrier(options), "barrier " + what, timeout_).wait();
}

}  // namespace must::dist
