// must_eval: scores a checkpoint on a dataset (direct mode), fine-tunes a checkpoint's backbone on a benchmark and
// scores it (--mode finetune), scores saved predictions (`score`), or puts runs side by side (`report`). The work is
// in must::eval (eval_config.h, report.h) and must::engine (train_config.h: finetune_model).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "must/app/metrics_log.h"
#include "must/app/train_tool.h"
#include "must/app/tool.h"
#include "must/core/check.h"
#include "must/eval/eval_config.h"
#include "must/eval/report.h"

int main(int argc, char** argv) {
  std::string weights, predictions, report_output, mode = "direct";
  std::vector<std::string> runs;
  bool save_predictions = false;
  CLI::App* score = nullptr;
  CLI::App* report = nullptr;
  must::app::ToolSpec spec;
  spec.name = "must_eval";
  spec.description =
      "Evaluates a checkpoint on the config's evaluation dataset (--weights), scores saved predictions against it "
      "(score), or compares runs (report). Metrics: <dataset>/<task>/<metric> in DIR/metrics.json.";
  spec.defaults = must::eval::eval_tool_defaults();
  spec.add_flags = [&](CLI::App& cli) {
    cli.add_option("--weights", weights, "weights to evaluate: our .safetensors, a torch.save .pth state dict; "
                                         "finetune: whose backbone to start from, or none (from scratch)");
    cli.add_option("--mode", mode, "direct: evaluate --weights as they are; finetune: train the config's model "
                                   "(train: section) from the backbone of --weights, then evaluate (resumable)")
        ->check(CLI::IsMember({"direct", "finetune"}));
    cli.add_flag("--save-predictions", save_predictions,
                 "also write DIR/predictions/: COCO results JSON, prediction PNGs, per-image top-5");
    score = cli.add_subcommand("score", "score saved predictions (a --save-predictions folder, or a COCO results "
                                        "JSON from any tool) against the config's dataset; no model needed");
    score->add_option("--predictions", predictions, "the predictions folder or COCO results JSON")->required();
    score->fallthrough();
    report = cli.add_subcommand("report", "a Markdown table and PNG chart of the runs' headline metrics");
    report->add_option("runs", runs, "run folders, each with a metrics.json")->required();
    report->add_option("--output", report_output, "the Markdown file; the chart goes beside it (.png)")->required();
    report->fallthrough();
    cli.require_subcommand(0, 1);
  };
  spec.needs_output_dir = [&] { return !report->parsed(); };
  spec.run = [&](must::app::ToolContext& context) {
    if (report->parsed()) {
      must::eval::write_report(std::vector<std::filesystem::path>(runs.begin(), runs.end()), report_output);
      spdlog::info("wrote {} and its chart", report_output);
      return;
    }
    must::eval::EvaluationResult result;
    if (score->parsed()) {
      result = must::eval::score_saved_predictions(context.config, predictions, context.output_dir, context.threads);
    } else if (mode == "finetune") {
      if (weights.empty()) MUST_THROW(must::ConfigError, "--mode finetune needs --weights FILE (or none: from scratch)");
      must::app::run_training(context, {}, [&](const auto& config, const auto& run) {
        must::engine::finetune_model(config, weights == "none" ? "" : weights, run);
      });
      spdlog::info("wrote {}", (context.output_dir / "metrics.json").string());
      return;
    } else {
      if (weights.empty()) MUST_THROW(must::ConfigError, "--weights FILE is required (or: must_eval score / report)");
      result = must::eval::evaluate_checkpoint(context.config, weights, context.output_dir, save_predictions,
                                               torch::Device(context.device));
    }
    std::cout << must::eval::metrics_table(result) << std::flush;
    must::app::MetricsLog(context.output_dir / "metrics.jsonl").write(0, result.metrics);
    spdlog::info("wrote {}", (context.output_dir / "metrics.json").string());
  };
  return must::app::run_tool(argc, argv, spec);
}
