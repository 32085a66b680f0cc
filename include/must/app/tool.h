// What every executable shares: the standard flags (docs/getting_started.md), config resolution, logging, thread
// count, and the one top-level error handler.
//
//   --config FILE   --set KEY=VALUE (repeated)   --output-dir DIR   --resume   --threads N   --device D
//   --print-config [KEY]
//
// Exit codes: 0 success; 2 usage or config error (bad flag, unknown key, wrong type, missing or malformed
// file); 1 runtime failure. The message, one line on stderr, names what was wrong.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "must/config/config.h"
#include "must/core/launch_env.h"

namespace CLI {
class App;
}

namespace must::app {

struct ToolContext {
  config::Config config;               // resolved: defaults <- file (+ bases) <- --set
  std::filesystem::path output_dir;    // exists; holds config.yaml, log.txt, metrics.jsonl
  bool resume = false;                 // continue from the last checkpoint in output_dir
  int threads = 1;                     // intra-op threads, already applied to LibTorch
  std::string device = "cpu";          // "cpu", "cuda" or "cuda:N", already checked to exist
  LaunchEnv launch;                    // rank / world size from the launcher's environment
};

struct ToolSpec {
  std::string name;         // executable name, e.g. "must_make_world"
  std::string description;  // one paragraph for --help
  std::string_view defaults;  // the tool's commented defaults YAML: the schema of its config
  // Adds the tool's own flags to the parser (optional). Values land in variables the caller owns.
  std::function<void(CLI::App&)> add_flags;
  // The job. Empty while the tool's job is not built yet: the tool then says so and exits 1.
  std::function<void(ToolContext&)> run;
  std::string not_built_reason;  // what is missing, when `run` is empty
  // Whether this invocation needs --output-dir (unset: always). Asked after parsing, so a mode that writes
  // elsewhere (must_eval report --output FILE) can say no; without one, nothing is written but what it writes.
  std::function<bool()> needs_output_dir;
};

// Parses flags, resolves the config, sets up logging and threads, runs the job, maps errors to exit codes.
int run_tool(int argc, char** argv, const ToolSpec& spec);

// The number of cores, the default of --threads.
int default_threads();

}  // namespace must::app
