#include "must/core/launch_env.h"

#include <cstdlib>
#include <string>

#include "must/core/check.h"

namespace must {
namespace {

bool read_int(const char* name, int* value) {
  const char* text = std::getenv(name);
  if (!text) return false;
  char* end = nullptr;
  const long parsed = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || parsed < 0 || parsed >= (1L << 30)) {
    MUST_THROW(ConfigError, "environment variable ", name, " should be a non-negative integer, got '", text, "'");
  }
  *value = static_cast<int>(parsed);
  return true;
}

// torchrun's additions: whether its agent hosts the store, and which attempt this is.
void read_torchrun_agent(LaunchEnv* env) {
  if (const char* text = std::getenv("TORCHELASTIC_USE_AGENT_STORE")) {
    const std::string value = text;
    if (value != "True" && value != "False") {
      MUST_THROW(ConfigError, "environment variable TORCHELASTIC_USE_AGENT_STORE should be True or False, got '", value,
                 "'");
    }
    env->agent_store = value == "True";
  }
  if (read_int("TORCHELASTIC_RESTART_COUNT", &env->restarts)) env->restarts_variable = "TORCHELASTIC_RESTART_COUNT";
}

// Slurm's: where to meet when the job script exported no MASTER_ADDR / MASTER_PORT, and whether it was requeued.
void read_slurm_job(LaunchEnv* env, bool addr_given, bool port_given) {
  if (const char* nodes = std::getenv("SLURM_JOB_NODELIST"); nodes && *nodes && !addr_given) {
    env->master_addr = first_slurm_host(nodes);
  }
  int job_id = 0;
  // 15000-24999: below Linux's ephemeral ports (32768-), so a connection's own port never takes it.
  if (!port_given && read_int("SLURM_JOB_ID", &job_id)) env->master_port = 15000 + job_id % 10000;
  if (read_int("SLURM_RESTART_COUNT", &env->restarts)) env->restarts_variable = "SLURM_RESTART_COUNT";
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  std::string host;
  for (size_t i = 0; i < nodelist.size() && nodelist[i] != ','; ++i) {
    if (nodelist[i] != '[') {
      host += nodelist[i];
      continue;
    }
    const size_t close = nodelist.find(']', i);
    // The group's first entry: "07" of "[07-09,12]".
    const size_t end = nodelist.find_first_of(",-]", i + 1);
    if (close == std::string::npos || end == i + 1) {
      MUST_THROW(ConfigError, "environment variable SLURM_JOB_NODELIST is not a Slurm host list: '", nodelist, "'");
    }
    host += nodelist.substr(i + 1, end - i - 1);
    i = close;
  }
  if (host.empty()) {
    MUST_THROW(ConfigError, "environment variable SLURM_JOB_NODELIST names no host: '", nodelist, "'");
  }
  return host;
}

LaunchEnv read_launch_env() {
  struct Launcher {
    const char* source;
    const char* rank;
    const char* world_size;
    const char* local_rank;
  };
  // torchrun first: a torchrun inside a SLURM allocation sets both, and its own variables are the ones in force.
  static const Launcher kLaunchers[] = {
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
      {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
      {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
  };
  LaunchEnv env;
  const char* addr = std::getenv("MASTER_ADDR");
  const bool addr_given = addr && *addr;
  if (addr_given) env.master_addr = addr;
  const bool port_given = read_int("MASTER_PORT", &env.master_port);
  if (port_given && (env.master_port < 1 || env.master_port > 65535)) {
    MUST_THROW(ConfigError, "environment variable MASTER_PORT should be a port (1-65535), got ", env.master_port);
  }
  for (const auto& launcher : kLaunchers) {
    if (!read_int(launcher.rank, &env.rank)) continue;
    if (!read_int(launcher.world_size, &env.world_size)) {
      MUST_THROW(ConfigError, launcher.rank, " is set but ", launcher.world_size, " is not");
    }
    read_int(launcher.local_rank, &env.local_rank);
    if (env.world_size < 1 || env.rank >= env.world_size) {
      MUST_THROW(ConfigError, launcher.rank, "=", env.rank, " is not below ", launcher.world_size, "=", env.world_size);
    }
    env.source = launcher.source;
    break;
  }
  if (env.source == "torchrun") read_torchrun_agent(&env);
  if (env.source == "slurm") read_slurm_job(&env, addr_given, port_given);
  return env;
}

std::string device_for_rank(const std::string& device, const LaunchEnv& launch) {
  return device == "cuda" ? "cuda:" + std::to_string(launch.local_rank) : device;
}

}  // namespace must
