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

}  // namespace

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
  if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) env.master_addr = addr;
  if (read_int("MASTER_PORT", &env.master_port) && (env.master_port < 1 || env.master_port > 65535)) {
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
    return env;
  }
  return env;
}

std::string device_for_rank(const std::string& device, const LaunchEnv& launch) {
  return device == "cuda" ? "cuda:" + std::to_string(launch.local_rank) : device;
}

}  // namespace must
