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
                             "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_RESTART_COUNT",
                             "SLURM_JOB_NODELIST", "SLURM_JOB_ID", "SLURM_RESTART_COUNT"}) {
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

TEST_F(LaunchEnvTest, TorchrunsAgentStoreAndRestarts) {
  ::setenv("RANK", "1", 1);
  ::setenv("WORLD_SIZE", "2", 1);
  EXPECT_FALSE(read_launch_env().agent_store);
  EXPECT_EQ(read_launch_env().restarts, 0);
  ::setenv("TORCHELASTIC_USE_AGENT_STORE", "True", 1);
  ::setenv("TORCHELASTIC_RESTART_COUNT", "1", 1);
  const LaunchEnv env = read_launch_env();
  EXPECT_TRUE(env.agent_store);
  EXPECT_EQ(env.restarts, 1);
  EXPECT_EQ(env.restarts_variable, "TORCHELASTIC_RESTART_COUNT");
  ::setenv("TORCHELASTIC_USE_AGENT_STORE", "False", 1);
  EXPECT_FALSE(read_launch_env().agent_store);
  ::setenv("TORCHELASTIC_USE_AGENT_STORE", "yes", 1);
  try {
    read_launch_env();
    FAIL() << "a malformed TORCHELASTIC_USE_AGENT_STORE was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("TORCHELASTIC_USE_AGENT_STORE"), std::string::npos) << e.what();
  }
}

TEST_F(LaunchEnvTest, SlurmMeetsOnTheFirstHostOfTheJobAtAPortOfTheJob) {
  ::setenv("SLURM_PROCID", "3", 1);
  ::setenv("SLURM_NTASKS", "8", 1);
  ::setenv("SLURM_JOB_NODELIST", "gpu[07-09,12],login1", 1);
  ::setenv("SLURM_JOB_ID", "123456", 1);
  ::setenv("SLURM_RESTART_COUNT", "2", 1);
  LaunchEnv env = read_launch_env();
  EXPECT_EQ(env.master_addr, "gpu07");
  EXPECT_EQ(env.master_port, 15000 + 123456 % 10000);
  EXPECT_EQ(env.restarts, 2);
  EXPECT_EQ(env.restarts_variable, "SLURM_RESTART_COUNT");
  // What the job script exports wins.
  ::setenv("MASTER_ADDR", "10.0.0.1", 1);
  ::setenv("MASTER_PORT", "29400", 1);
  env = read_launch_env();
  EXPECT_EQ(env.master_addr, "10.0.0.1");
  EXPECT_EQ(env.master_port, 29400);
}

TEST_F(LaunchEnvTest, FirstSlurmHost) {
  EXPECT_EQ(first_slurm_host("node17"), "node17");
  EXPECT_EQ(first_slurm_host("a1,b2"), "a1");
  EXPECT_EQ(first_slurm_host("rack[2-3]-n[001,004]"), "rack2-n001");
  EXPECT_EQ(first_slurm_host("n[9]"), "n9");
  EXPECT_THROW(first_slurm_host("n[01-02"), ConfigError);
  EXPECT_THROW(first_slurm_host("n[]"), ConfigError);
  EXPECT_THROW(first_slurm_host(",n1"), ConfigError);
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
