// The ranks of a run as threads of one process: each connects to the same TCPStore (rank 0 hosts it) and forms
// the Gloo process group over loopback, as separate processes do.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "must/distributed/process_group.h"
#include "must/distributed/work_queue.h"

namespace must::distributed {

inline int free_port() {
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
inline void run_ranks(int world, const std::function<void(int, ProcessGroup&)>& body) {
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
        const auto store = connect_store(launch, std::chrono::milliseconds(20000));
        ProcessGroup group(store, rank, world, launch.master_addr, std::chrono::milliseconds(20000));
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

}  // namespace must::distributed
