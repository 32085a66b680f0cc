#include "test_support.h"

#include <unistd.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

#include "must/core/check.h"

namespace must::test {

ScratchDir::ScratchDir() {
  std::random_device device;
  path_ = std::filesystem::temp_directory_path() / ("must-test-" + std::to_string(device()) + std::to_string(device()));
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  if (std::getenv("MUST_KEEP_TEST_DIRS")) return;  // for looking at what a test wrote
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  MUST_CHECK(out.good(), "cannot write ", path.string());
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  MUST_CHECK(pipe != nullptr, "cannot run: ", command);
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void copy_cached_fixtures(const std::string& name, const std::filesystem::path& script, const std::filesystem::path& into) {
  namespace fs = std::filesystem;
  const fs::path cache = fs::path(MUST_BINARY_DIR) / "test-fixtures" / name;
  auto fresh = [&] {
    std::error_code error;
    const auto stamp = fs::last_write_time(cache / ".complete", error);
    return !error && stamp >= fs::last_write_time(script);
  };
  if (!fresh()) {
    // Made beside the cache and renamed into place, so a concurrent test never sees half a fixture set.
    const fs::path staging = cache.string() + ".staging-" + std::to_string(::getpid());
    fs::remove_all(staging);
    fs::create_directories(staging);
    const CommandResult result = run_command(python() + " " + script.string() + " " + staging.string());
    if (result.exit_code != 0) throw std::runtime_error(script.string() + " failed:\n" + result.output);
    write_text(staging / ".complete", "");
    if (!fresh()) {
      fs::remove_all(cache);
      std::error_code error;
      fs::rename(staging, cache, error);
    }
    fs::remove_all(staging);
  }
  fs::copy(cache, into, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

std::string python() {
  const char* chosen = std::getenv("MUST_PYTHON");
  return chosen && *chosen ? chosen : "/usr/bin/python3";
}

std::string torchrun(int processes, const std::string& tool, const std::filesystem::path& log_dir,
                     const std::string& launcher_flags) {
  const std::string free_port =
      python() + " -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'";
  // -r 2 -t 2: Debian 12's torchrun (torch 1.13, Python 3.11) stops at start without them ('NoneType' object has no
  // attribute 'get'); they send the workers' stderr to log_dir and copy it to the console.
  return python() + " -m torch.distributed.run --nproc_per_node=" + std::to_string(processes) +
         " --master_addr=127.0.0.1 --master_port=$(" + free_port + ") --no_python -r 2 -t 2 --log_dir " +
         log_dir.string() + " " + launcher_flags + " " + tool;
}

std::string tool_path(const std::string& name) { return std::string(MUST_BINARY_DIR) + "/bin/" + name; }

void write_quick_world(const std::filesystem::path& dir) {
  const CommandResult world = run_command(tool_path("must_make_world") + " --threads 2 --config " +
                                          source_path("configs/quick/world.yaml").string() + " --output-dir " + dir.string());
  if (world.exit_code != 0) throw std::runtime_error("must_make_world failed:\n" + world.output);
}

std::filesystem::path source_path(const std::string& relative) {
  return std::filesystem::path(MUST_SOURCE_DIR) / relative;
}

}  // namespace must::test
