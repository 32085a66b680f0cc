// Collectives among the ranks of a run (docs/cluster.md): c10d's process groups over the run's store, for the student's
// data parallelism (parameter broadcast, gradient all-reduce, metric reduction).
//
// Every rank creates it with the same store, in the same order as its other collectives; each call below is a
// collective that every rank must make, in the same order, with tensors of the same shape and type. A collective's
// tensor decides its backend: host tensors go through Gloo; CUDA tensors through NCCL where the group was made for
// a CUDA device and the build has NCCL (MUST_WITH_NCCL, scripts/gpu_check.sh turns it on where PyTorch has it),
// else through Gloo (by host copies, where LibTorch has CUDA) — as PyTorch users keep a Gloo group beside the NCCL
// one for host objects. Its keys live under "process_group/" in the store, apart from the work queues'. Every
// collective has the run's timeout and names itself when it runs out.
//
// Network: GLOO_SOCKET_IFNAME names the interface when set (as in PyTorch); otherwise loopback when the ranks meet
// at a loopback address, else the address this machine's hostname resolves to. NCCL finds its own (NCCL_SOCKET_IFNAME).
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "must/core/launch_env.h"

namespace c10d {
class Work;
}  // namespace c10d

namespace must::distributed {

class ProcessGroup {
 public:
  // A collective started and not yet waited for.
  class Pending {
   public:
    // A `timeout` of kStreamOrdered: NCCL's work, whose wait only orders the calling thread's CUDA stream.
    static constexpr std::chrono::milliseconds kStreamOrdered{-1};

    Pending();
    Pending(c10::intrusive_ptr<c10d::Work> work, std::string what, std::chrono::milliseconds timeout);
    Pending(Pending&&) noexcept;
    Pending& operator=(Pending&&) noexcept;
    ~Pending();
    // Returns once the collective has finished on this rank (its output tensors hold the result). Throws
    // must::Error naming the collective when it fails or runs out of time. NCCL's (CUDA tensors): returns at once,
    // the calling thread's current CUDA stream ordered after the collective; NCCL's watchdog, not this call, ends
    // the process when it runs out of time.
    void wait();

   private:
    c10::intrusive_ptr<c10d::Work> work_;
    std::string what_;
    std::chrono::milliseconds timeout_{0};
  };

  // Meets the other ranks (waits up to `timeout`). `master_addr` is where the store is hosted (LaunchEnv); `name`
  // keeps this group's keys apart from other groups' on the same store; `device` is where the run's tensors live
  // (a CUDA device adds the NCCL group, where built with it).
  ProcessGroup(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world_size, const std::string& master_addr,
               std::chrono::milliseconds timeout, const std::string& name = "process_group",
               torch::Device device = torch::kCPU);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // A second group over the same ranks (a collective: every rank calls it with the same name), for collectives
  // issued in an order of their own, which must not interleave with this group's: synchronised batch norm's run
  // inside forward and backward while the gradient buckets' are in flight.
  std::unique_ptr<ProcessGroup> another(const std::string& name) const;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  // "gloo", or "gloo+nccl" where CUDA tensors go through NCCL.
  std::string backend_name() const;

  // Sums `tensor` over the ranks, in place, in the background: the caller goes on and waits on the result (the
  // student launches gradient buckets during backward this way).
  Pending all_reduce_sum(torch::Tensor tensor, const std::string& what);
  // Every rank's `tensor` becomes root's, in place.
  void broadcast(torch::Tensor tensor, int root, const std::string& what);
  // Every rank's `tensor` (same shape on all), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor, const std::string& what);
  // Every rank's bytes (any length), in rank order.
  std::vector<std::string> all_gather_bytes(const std::string& bytes, const std::string& what);
  // Returns when every rank has called it.
  void barrier(const std::string& what);

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  std::string master_addr_;
  torch::Device device_;
  struct Backends;  // c10d's groups: Gloo, and NCCL where made for a CUDA device with NCCL built
  std::unique_ptr<Backends> backends_;
  int rank_, world_size_;
  std::chrono::milliseconds timeout_;
};

// Each key's mean over the ranks whose map has it (loss terms: a task absent from a rank's batch has no term there).
std::map<std::string, double> mean_over_ranks(ProcessGroup& group, const std::map<std::string, double>& values,
                                              const std::string& what);

// The run's process group from the launcher's environment: rendezvous on rank 0's store (MASTER_ADDR/PORT), then
// the group for the run's `device`; null for a run of one process.
std::unique_ptr<ProcessGroup> join_process_group(const LaunchEnv& launch, std::chrono::milliseconds timeout,
                                                 torch::Device device = torch::kCPU);

}  // namespace must::distributed
