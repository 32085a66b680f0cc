#include <gtest/gtest.h>

#include <cstdlib>

#include "must/core/check.h"
#include "must/core/launch_env.h"

namespace must {
namespace {

class LaunchEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
                             "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "MASTER_ADDR",
                             "MASTER_PORT"}) {
      ::unsetenv(name);
    }
  }
};

TEST_F(LaunchEnvTest, NoEnvironmentIsOneProcess) {
  const LaunchEnv env = read_launch_env();
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.source, "none");
  EXPECT_EQ(env.master_addr, "127.0.0.1");
  EXPECT_EQ(env.master_port, 29500);
}

TEST_F(LaunchEnvTest, MasterAddressAndPort) {
  ::setenv("MASTER_ADDR", "node17", 1);
  ::setenv("MASTER_PORT", "31337", 1);
  const LaunchEnv env = read_launch_env();
  EXPECT_EQ(env.master_addr, "node17");
  EXPECT_EQ(env.master_port, 31337);
  ::setenv("MASTER_PORT", "70000", 1);
  EXPECT_THROW(read_launch_env(), ConfigError);
}

TEST_F(LaunchEnvTest, TorchrunWinsOverSlurm) {
  ::setenv("SLURM_PROCID", "5", 1);
  ::setenv("SLURM_NTASKS", "8", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  const LaunchEnv env = read_launch_env();
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.source, "torchrun");
}

TEST_F(LaunchEnvTest, SlurmAndOpenMpi) {
  ::setenv("SLURM_PROCID", "5", 1);
  ::setenv("SLURM_NTASKS", "8", 1);
  EXPECT_EQ(read_launch_env().rank, 5);
  clear();
  ::setenv("OMPI_COMM_WORLD_RANK", "2", 1);
  ::setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
  EXPECT_EQ(read_launch_env().source, "openmpi");
}

TEST_F(LaunchEnvTest, MalformedOrInconsistentValuesAreNamed) {
  ::setenv("RANK", "two", 1);
  ::setenv("WORLD_SIZE", "4", 1);
  EXPECT_THROW(read_launch_env(), ConfigError);  // a usage error: the tools exit 2
  ::setenv("RANK", "4", 1);
  try {
    read_launch_env();
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("RANK=4"), std::string::npos) << e.what();
  }
  ::unsetenv("WORLD_SIZE");
  EXPECT_THROW(read_launch_env(), ConfigError);
}

TEST(DeviceForRank, CudaIsTheRanksOwnGpuOnItsNode) {
  LaunchEnv launch;
  launch.rank = 5;
  launch.world_size = 8;
  launch.local_rank = 1;
  EXPECT_EQ(device_for_rank("cuda", launch), "cuda:1");
  EXPECT_EQ(device_for_rank("cuda:3", launch), "cuda:3");  // the user's choice stands
  EXPECT_EQ(device_for_rank("cpu", launch), "cpu");
  EXPECT_EQ(device_for_rank("cuda", LaunchEnv{}), "cuda:0");
}

}  // namespace
}  // namespace must
