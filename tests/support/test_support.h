// Helpers shared by the tests: scratch directories and running the real executables.
#pragma once

#include <filesystem>
#include <string>

namespace must::test {

// A fresh directory under the system temp dir, removed when the object dies (kept when MUST_KEEP_TEST_DIRS is set).
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `text` to `path`, creating parent directories.
void write_text(const std::filesystem::path& path, const std::string& text);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// The interpreter of the tests' Python helpers: $MUST_PYTHON, or Debian's /usr/bin/python3 (python3-torch,
// torchvision, numpy). A machine without Debian's packages names its own (scripts/gpu_check.sh does).
std::string python();

// Runs a shell command line and captures its output.
CommandResult run_command(const std::string& command);

// A shell command line starting the command line `tool` on `processes` workers under torchrun
// (`python() -m torch.distributed.run --no_python`), with its default static rendezvous, whose agent hosts the
// store, on a free port of this machine; `launcher_flags` go to torchrun (--max_restarts=1, ...); the workers'
// logs go under `log_dir`.
std::string torchrun(int processes, const std::string& tool, const std::filesystem::path& log_dir,
                     const std::string& launcher_flags = "");

// Fixtures from a generator script (`python() SCRIPT DIR`), made once per build tree and script
// version under build/test-fixtures/<name>, then copied into `into` (tests may change their copy).
// Throws std::runtime_error with the script's output when it fails.
void copy_cached_fixtures(const std::string& name, const std::filesystem::path& script, const std::filesystem::path& into);

// build/bin/<name>
std::string tool_path(const std::string& name);
// must_make_world with configs/quick/world.yaml into `dir`; throws std::runtime_error with its output on failure.
void write_quick_world(const std::filesystem::path& dir);
// <repo>/<relative>
std::filesystem::path source_path(const std::string& relative);

}  // namespace must::test
