// Where this process sits in a launch: torchrun (RANK, WORLD_SIZE, LOCAL_RANK), SLURM (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID) or Open MPI (OMPI_COMM_WORLD_*). No environment = one process (docs/cluster.md).
//
// torchrun's agent hosts the store itself where it says so (TORCHELASTIC_USE_AGENT_STORE=True: its static
// rendezvous, and newer PyTorch's c10d one) and restarts the whole group when a worker dies; each attempt's workers
// see TORCHELASTIC_RESTART_COUNT. Under Slurm, without MASTER_ADDR / MASTER_PORT, the ranks meet on the first host
// of SLURM_JOB_NODELIST, at a port taken from SLURM_JOB_ID (two jobs sharing a node do not collide); a requeued
// job sees SLURM_RESTART_COUNT.
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
  // torchrun's agent hosts the store: every rank connects as a client, and the run's keys live under
  // "/worker/attempt_<restarts>" (as PyTorch's own workers keep theirs), so a restarted group starts on clean keys.
  bool agent_store = false;
  // How many times the launcher has started this run again: torchrun's restarts of the group
  // (TORCHELASTIC_RESTART_COUNT), Slurm's requeues (SLURM_RESTART_COUNT). Above 0, a training tool resumes from its
  // last checkpoint as with --resume.
  int restarts = 0;
  std::string restarts_variable;  // the variable `restarts` was read from ("" when none is set)
};

// Throws must::ConfigError naming the variable when one is set but malformed or inconsistent.
LaunchEnv read_launch_env();

// The first host of a Slurm host list: "gpu[07-09,12],login1" -> "gpu07" (as `scontrol show hostnames | head -1`).
// Throws must::ConfigError naming SLURM_JOB_NODELIST when it is malformed.
std::string first_slurm_host(const std::string& nodelist);

// The device a rank computes on: "cuda" (no index) is this rank's own GPU on its node, cuda:LOCAL_RANK, as
// torchrun's users set it; "cpu" and an explicit "cuda:N" are kept.
std::string device_for_rank(const std::string& device, const LaunchEnv& launch);

}  // namespace must
