#include "must/app/train_tool.h"

#include <CLI/CLI.hpp>

#include "must/app/metrics_log.h"
#include "must/distributed/process_group.h"

namespace must::app {

void run_training(const ToolContext& context, pipelines::TrainRun run, const TrainEntry& train, double dist_timeout_s) {
  const torch::Device device(context.device);
  const auto group =
      distributed::join_process_group(context.launch, std::chrono::milliseconds(int64_t(dist_timeout_s * 1000)), device);
  MetricsLog metrics(context.output_dir / "metrics.jsonl");
  run.output_dir = context.output_dir;
  run.resume = context.resume;
  run.device = device;
  run.group = group.get();
  run.metrics = [&](int64_t step, const std::map<std::string, double>& values) { metrics.write(step, values); };
  train(context.config, run);
}

int run_training_tool(int argc, char** argv, ToolSpec spec, TrainEntry train) {
  std::string init_from;
  double timeout_s = kDistTimeoutSeconds;
  spec.add_flags = [&](CLI::App& cli) {
    cli.add_option("--init-from", init_from, "weights to start from: a torchvision/PyTorch .pth or a .safetensors "
                                             "(overrides model.init_from; the import report is logged)");
    cli.add_option("--dist-timeout", timeout_s, "seconds a rank waits for the others (meeting, each collective)")
        ->check(CLI::PositiveNumber);
  };
  spec.run = [&](ToolContext& context) {
    pipelines::TrainRun run;
    run.init_from = init_from;
    run_training(context, run, train, timeout_s);
  };
  return run_tool(argc, argv, spec);
}

}  // namespace must::app
