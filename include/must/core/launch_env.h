// Where this process sits in a launch: torchrun (RANK, WORLD_SIZE, LOCAL_RANK), SLURM (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID) or Open MPI (OMPI_COMM_WORLD_*). No environment = one process (docs/cluster.md).
#pragma once

#include <string>

namespace must {

struct LaunchEnv {
  int rank = 0;        // global rank
  int world_size = 1;  // number of processes
  int local_rank = 0;  // rank on this node
  std::string source = "none";  // which launcher's variables were read: torchrun, slurm, openmpi, none
  // Where rank 0 hosts the rendezvous store: MASTER_ADDR / MASTER_PORT (torchrun sets them; under SLURM or
  // Open MPI the job script exports them), 127.0.0.1:29500 when unset.
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Throws must::ConfigError naming the variable when one is set but malformed or inconsistent.
LaunchEnv read_launch_env();

// The device a rank computes on: "cuda" (no index) is this rank's own GPU on its node, cuda:LOCAL_RANK, as
// torchrun's users set it; "cpu" and an explicit "cuda:N" are kept.
std::string device_for_rank(const std::string& device, const LaunchEnv& launch);

}  // namespace must
