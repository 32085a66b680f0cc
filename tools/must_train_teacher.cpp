// must_train_teacher: trains one specialized model (a teacher: the config's model with its task's head) on its
// labelled dataset, resumable, evaluating as it goes; data parallel when launched as several ranks
// (scripts/launch_local.sh N -- must_train_teacher ...). The work is in must::engine (train_config.h).
#include <CLI/CLI.hpp>

#include "must/app/metrics_log.h"
#include "must/app/tool.h"
#include "must/dist/process_group.h"
#include "must/engine/train_config.h"

int main(int argc, char** argv) {
  std::string init_from;
  double timeout_s = 1800;
  must::app::ToolSpec spec;
  spec.name = "must_train_teacher";
  spec.description =
      "Trains the config's model on data.train (evaluating on data.eval) into --output-dir: checkpoints, "
      "model_final.safetensors, metrics.jsonl and metrics.json. --resume continues a run where it stopped.";
  spec.defaults = must::engine::train_tool_defaults();
  spec.add_flags = [&](CLI::App& cli) {
    cli.add_option("--init-from", init_from, "weights to start from: a torchvision/PyTorch .pth or a .safetensors "
                                             "(overrides model.init_from; the import report is logged)");
    cli.add_option("--dist-timeout", timeout_s, "seconds a rank waits for the others (meeting, each collective)")
        ->check(CLI::PositiveNumber);
  };
  spec.run = [&](must::app::ToolContext& context) {
    const auto group =
        must::dist::join_process_group(context.launch, std::chrono::milliseconds(int64_t(timeout_s * 1000)));
    must::app::MetricsLog metrics(context.output_dir / "metrics.jsonl");
    must::engine::TrainRun run;
    run.output_dir = context.output_dir;
    run.resume = context.resume;
    run.init_from = init_from;
    run.device = torch::Device(context.device);
    run.group = group.get();
    run.metrics = [&](int64_t step, const std::map<std::string, double>& values) { metrics.write(step, values); };
    must::engine::train_model(context.config, run);
  };
  return must::app::run_tool(argc, argv, spec);
}
