#include "must/app/tool.h"

#include <ATen/Parallel.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <regex>
#include <thread>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/memory.h"
#include "must/core/openmp_spin.h"
#include "must/core/strings.h"

namespace must::app {
namespace {

// What --print-config prints: with neither --config nor --set, the tool's defaults with their comments (the
// schema); with KEY, the resolved value there on one line, to pass on with --set KEY=VALUE; else the resolved config.
std::string config_to_print(const ToolSpec& spec, const config::Config& config, const std::string& key,
                            bool configured) {
  if (!key.empty()) return config.at(key).dump_one_line();
  return configured ? config.dump() : std::string(spec.defaults);
}

void setup_logging(const LaunchEnv& launch, const std::filesystem::path& log_file) {
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (!log_file.empty()) sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file.string()));
  auto logger = std::make_shared<spdlog::logger>("must", sinks.begin(), sinks.end());
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [rank " + std::to_string(launch.rank) + "] [%l] %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void check_device(const std::string& device) {
  static const std::regex kDevice("cpu|cuda(:[0-9]+)?");
  if (!std::regex_match(device, kDevice)) {
    MUST_THROW(ConfigError, "--device '", device, "': expected cpu, cuda or cuda:N");
  }
  if (device == "cpu") return;
  if (!torch::cuda::is_available()) {
    MUST_THROW(ConfigError, "--device ", device, ": this LibTorch build sees no CUDA device");
  }
  const auto colon = device.find(':');
  if (colon != std::string::npos) {
    const int index = std::stoi(device.substr(colon + 1));
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      MUST_THROW(ConfigError, "--device ", device, ": only ", torch::cuda::device_count(), " CUDA device(s)");
    }
  }
}

// Prints "<tool>: <kind><message>", the one line a user reads about a failure, and returns the exit code. The
// message may quote a damaged file's bytes: what a terminal should not receive is escaped.
int report(const std::string& tool, const std::string& kind, const std::string& message, int code) {
  std::cerr << tool << ": " << kind << printable(message) << std::endl;
  return code;
}

}  // namespace

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

int run_tool(int argc, char** argv, const ToolSpec& spec) {
  reexec_with_short_openmp_spin(argv);
  CLI::App cli(spec.description, spec.name);
  cli.get_formatter()->column_width(34);
  std::string config_file;
  std::vector<std::string> overrides;
  std::string output_dir;
  bool resume = false;
  int threads = default_threads();
  std::string device = "cpu";
  std::string print_key;
  cli.add_option("--config", config_file, "YAML config (may inherit others through _base_)");
  cli.add_option("--set", overrides, "override a config key: --set a.b.c=VALUE (repeatable; VALUE is YAML)")
      ->allow_extra_args(false);
  cli.add_option("--output-dir", output_dir, "where outputs, config.yaml, log.txt and metrics.jsonl go");
  cli.add_flag("--resume", resume, "continue from the last checkpoint in --output-dir");
  cli.add_option("--threads", threads, "intra-op CPU threads (default: all cores)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cli.add_option("--device", device, "cpu, cuda (each rank its cuda:LOCAL_RANK) or cuda:N")->capture_default_str();
  auto* print_config = cli.add_option("--print-config", print_key,
                                      "print the resolved config (the defaults with their comments when there is no "
                                      "--config or --set; with KEY, its value on one line, as --set takes it) and exit")
                           ->expected(0, 1)
                           ->type_name("[KEY]");
  if (spec.add_flags) spec.add_flags(cli);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return cli.exit(e);  // --help
    return report(spec.name, "usage error: ", e.what(), 2);
  }

  if (!spec.run) return report(spec.name, "not built yet: ", spec.not_built_reason + "; nothing was done", 1);

  try {
    const LaunchEnv launch = read_launch_env();
    device = device_for_rank(device, launch);
    // A group torchrun restarted, or a job Slurm requeued, continues where the last attempt stopped.
    ToolContext context{config::Config::load(spec.defaults, config_file, overrides), output_dir,
                        resume || launch.restarts > 0, threads, device, launch};
    if (print_config->count() > 0) {
      std::cout << config_to_print(spec, context.config, print_key, !config_file.empty() || !overrides.empty())
                << std::endl;
      return 0;
    }
    const bool writes_output_dir = !spec.needs_output_dir || spec.needs_output_dir();
    if (writes_output_dir && output_dir.empty()) MUST_THROW(ConfigError, "--output-dir is required");
    check_device(device);
    keep_freed_memory_for_reuse();
    at::set_num_threads(threads);
    if (output_dir.empty()) {
      setup_logging(context.launch, {});
    } else {
      ensure_directory(context.output_dir);
      const std::string log_name = context.launch.world_size > 1
                                       ? "log.rank" + std::to_string(context.launch.rank) + ".txt"
                                       : "log.txt";
      setup_logging(context.launch, context.output_dir / log_name);
      if (context.launch.rank == 0) context.config.write(context.output_dir / "config.yaml");
    }
    spdlog::info("{} with {} thread(s) ({}) on {}{}", spec.name, threads, openmp_spin_description(), device,
                 output_dir.empty() ? "" : "; outputs in " + output_dir);
    if (launch.restarts > 0) {
      spdlog::info("restart {} of this run ({}={}): continuing from what the last attempt left", launch.restarts,
                   launch.restarts_variable, launch.restarts);
    }
    spec.run(context);
    return 0;
  } catch (const ConfigError& e) {
    return report(spec.name, "config error: ", e.what(), 2);
  } catch (const std::exception& e) {
    spdlog::default_logger()->flush();
    const auto* torch_error = dynamic_cast<const c10::Error*>(&e);  // LibTorch's own: without its C++ backtrace
    return report(spec.name, "error: ", torch_error ? torch_error->what_without_backtrace() : e.what(), 1);
  }
}

}  // namespace must::app
