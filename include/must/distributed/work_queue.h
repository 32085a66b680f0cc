// The ranks of a run meeting through c10d's TCPStore (docs/cluster.md), and a work queue on it.
//
// Rank 0 hosts the store at MASTER_ADDR:MASTER_PORT (LaunchEnv), unless torchrun's agent hosts it there
// (LaunchEnv::agent_store: every rank is a client, its keys under the attempt's prefix); every rank connects,
// waiting up to `timeout` for the others. A run of one process needs no store (LocalWorkQueue). Every wait has the
// timeout and says, when it runs out, what it waited for and for how long.
//
// WorkQueue: items 0, 1, 2, ... handed out once each across all ranks, from one counter in the store (an atomic
// add), so a faster rank takes more. finish_and_wait(): this rank claims no more; returns once every rank has.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "must/core/launch_env.h"

namespace must::distributed {

class WorkQueue {
 public:
  virtual ~WorkQueue() = default;
  virtual int64_t claim() = 0;
  virtual void finish_and_wait() = 0;
};

class LocalWorkQueue final : public WorkQueue {
 public:
  int64_t claim() override { return next_++; }
  void finish_and_wait() override {}

 private:
  int64_t next_ = 0;
};

// The run's store (rank 0 hosts it; c10d's process groups take it as it is). Throws must::Error naming the
// address and the timeout when the ranks do not meet.
c10::intrusive_ptr<c10d::Store> connect_store(const LaunchEnv& launch, std::chrono::milliseconds timeout);

// Every rank calls it with the same name; returns when all have. Rank 0, which hosts the store, returns only once
// every rank has seen the barrier open: it may then exit (closing the store) without cutting off a rank still
// polling. Throws must::Error on timeout, naming how many arrived.
void barrier(c10d::Store& store, const std::string& name, int rank, int world_size, std::chrono::milliseconds timeout);

class StoreWorkQueue final : public WorkQueue {
 public:
  StoreWorkQueue(c10::intrusive_ptr<c10d::Store> store, std::string name, int rank, int world_size,
                 std::chrono::milliseconds timeout)
      : store_(std::move(store)), name_(std::move(name)), rank_(rank), world_size_(world_size), timeout_(timeout) {}
  int64_t claim() override;
  void finish_and_wait() override;

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  std::string name_;
  int rank_, world_size_;
  std::chrono::milliseconds timeout_;
};

}  // namespace must::distributed
