#include "test_support.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <random>

#include "must/core/check.h"

namespace must::test {

ScratchDir::ScratchDir() {
  std::random_device device;
  path_ = std::filesystem::temp_directory_path() / ("must-test-" + std::to_string(device()) + std::to_string(device()));
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
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

std::string tool_path(const std::string& name) { return std::string(MUST_BINARY_DIR) + "/bin/" + name; }

std::filesystem::path source_path(const std::string& relative) {
  return std::filesystem::path(MUST_SOURCE_DIR) / relative;
}

}  // namespace must::test
