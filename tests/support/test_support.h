// Helpers shared by the tests: scratch directories and running the real executables.
#pragma once

#include <filesystem>
#include <string>

namespace must::test {

// A fresh directory under the system temp dir, removed when the object dies.
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
// Runs a shell command line and captures its output.
CommandResult run_command(const std::string& command);

// build/bin/<name>
std::string tool_path(const std::string& name);
// <repo>/<relative>
std::filesystem::path source_path(const std::string& relative);

}  // namespace must::test
