// must_eval: scores a checkpoint on a dataset (direct mode), fine-tunes a checkpoint's backbone on a benchmark and
// scores it (--mode finetune), scores saved predictions (`score`), predicts a folder of images and draws the
// predictions (`predict`), or puts runs side by side (`report`). The work is in must::pipelines (evaluate.h,
// finetune.h) and must::eval (report.h).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "must/app/metrics_log.h"
#include "must/app/train_tool.h"
#include "must/app/tool.h"
#include "must/core/check.h"
#include "must/core/strings.h"
#include "must/eval/report.h"
#include "must/eval/result_formats.h"
#include "must/pipelines/evaluate.h"
#include "must/pipelines/finetune.h"

int main(int argc, char** argv) {
  std::string weights, predictions, predictions_format, report_output, baseline, mode = "direct";
  std::vector<std::string> runs, columns;
  bool save_predictions = false;
  must::pipelines::PredictRequest predict_request;
  std::string images, torchscript, torchscript_task;
  std::vector<float> torchscript_mean = {0.485f, 0.456f, 0.406f}, torchscript_std = {0.229f, 0.224f, 0.225f};
  std::vector<int64_t> torchscript_size = {0, 0};
  CLI::App* score = nullptr;
  CLI::App* predict = nullptr;
  CLI::App* report = nullptr;
  must::app::ToolSpec spec;
  spec.name = "must_eval";
  spec.description =
      "Evaluates a checkpoint on the config's evaluation dataset (--weights), scores saved predictions against it "
      "(score), or compares runs (report). Metrics: <dataset>/<task>/<metric> in DIR/metrics.json.";
  spec.defaults = must::pipelines::eval_schema();
  spec.add_flags = [&](CLI::App& cli) {
    cli.add_option("--weights", weights, "weights to evaluate: our .safetensors, a torch.save .pth state dict; "
                                         "finetune: whose backbone to start from, or none (from scratch)");
    cli.add_option("--mode", mode, "direct: evaluate --weights as they are; finetune: train the config's model "
                                   "(train: section) from the backbone of --weights, then evaluate (resumable)")
        ->check(CLI::IsMember({"direct", "finetune"}));
    cli.add_flag("--save-predictions", save_predictions,
                 "also write DIR/predictions/: COCO results JSON, prediction PNGs, per-image top-5");
    score = cli.add_subcommand("score", "score saved predictions (a --save-predictions folder, a COCO results JSON "
                                        "from any tool, or a benchmark's official result format) against the config's "
                                        "dataset; no model needed");
    score->add_option("--predictions", predictions, "the predictions: a folder or a file")->required();
    score->add_option("--predictions-format", predictions_format,
                      "how they are written (default: must for a --save-predictions folder or a file; a folder of "
                      "official results needs it): " + must::join(must::eval::prediction_format_help(), "; "))
        ->check(CLI::IsMember(must::eval::prediction_format_names()));
    score->fallthrough();
    predict = cli.add_subcommand("predict", "the checkpoint (--weights, or model.init_from) over a folder of images "
                                            "without labels: DIR/predictions/, and with --visualize a picture each");
    predict->add_option("--images", images, "the folder of images")->required();
    predict->add_flag("--visualize", predict_request.visualize,
                      "also DIR/pictures/NNNNNN.png (boxes, segmentation, depth and normals side by side), sheet.png");
    predict->add_option("--box-threshold", predict_request.box_threshold, "boxes drawn at or above this score")
        ->capture_default_str();
    predict->add_option("--torchscript", torchscript, "a TorchScript teacher instead of --weights "
                                                      "(docs/own_teachers.md has its contract)");
    predict->add_option("--task", torchscript_task, "--torchscript: the teacher's task (classification, detection, "
                                                    "segmentation, depth, normals)");
    predict->add_option("--mean", torchscript_mean, "--torchscript: its input normalisation, R G B on 0..1 pixels")
        ->expected(3)->capture_default_str();
    predict->add_option("--std", torchscript_std, "--torchscript: R G B")->expected(3)->capture_default_str();
    predict->add_option("--size", torchscript_size, "--torchscript: H W each image is resized to (0 0: as data.augment "
                                                    "gives it)")->expected(2)->capture_default_str();
    predict->fallthrough();
    report = cli.add_subcommand("report", "a Markdown table and PNG chart of the runs' headline metrics");
    report->add_option("runs", runs, "run folders, each with a metrics.json: a column each, named after the folder");
    report->add_option("--column", columns, "NAME=DIR[,DIR...]: a column named NAME of these run folders' metrics "
                                            "(merged; repeat for more columns, which come after the plain folders)");
    report->add_option("--baseline", baseline, "the column every other column's cells are compared with");
    report->add_option("--output", report_output, "the Markdown file; the chart goes beside it (.png)")->required();
    report->fallthrough();
    cli.require_subcommand(0, 1);
  };
  spec.needs_output_dir = [&] { return !report->parsed(); };
  spec.run = [&](must::app::ToolContext& context) {
    if (report->parsed()) {
      std::vector<must::eval::ReportColumn> table =
          must::eval::columns_of_runs(std::vector<std::filesystem::path>(runs.begin(), runs.end()));
      for (const std::string& column : columns) table.push_back(must::eval::parse_report_column(column));
      if (table.empty()) MUST_THROW(must::ConfigError, "report: give run folders or --column NAME=DIR[,DIR...]");
      must::eval::write_report(table, report_output, baseline);
      spdlog::info("wrote {} and its chart", report_output);
      return;
    }
    if (predict->parsed()) {
      predict_request.images = images;
      if (!torchscript.empty()) {
        if (torchscript_task.empty()) MUST_THROW(must::ConfigError, "--torchscript needs --task: the teacher's task");
        must::models::ScriptTeacherOptions& options = predict_request.torchscript;
        options.file = torchscript;
        options.task = must::task_from_name(torchscript_task);
        options.mean = {torchscript_mean[0], torchscript_mean[1], torchscript_mean[2]};
        options.std = {torchscript_std[0], torchscript_std[1], torchscript_std[2]};
        options.size = {torchscript_size[0], torchscript_size[1]};
      }
      predict_request.output_dir = context.output_dir;
      const int64_t done = must::pipelines::predict_images(context.config, weights, predict_request,
                                                           torch::Device(context.device));
      spdlog::info("wrote {} images' predictions to {}{}", done, (context.output_dir / "predictions").string(),
                   predict_request.visualize ? " and their pictures to " + (context.output_dir / "pictures").string() : "");
      return;
    }
    must::eval::EvaluationResult result;
    if (score->parsed()) {
      result = must::pipelines::score_saved_predictions(context.config, predictions, predictions_format,
                                                         context.output_dir, context.threads);
    } else if (mode == "finetune") {
      if (weights.empty()) MUST_THROW(must::ConfigError, "--mode finetune needs --weights FILE (or none: from scratch)");
      must::app::run_training(context, {}, [&](const auto& config, const auto& run) {
        must::pipelines::finetune_model(config, weights == "none" ? "" : weights, run);
      });
      spdlog::info("wrote {}", (context.output_dir / "metrics.json").string());
      return;
    } else {
      result = must::pipelines::evaluate_checkpoint(context.config, weights, context.output_dir, save_predictions,
                                               torch::Device(context.device));
    }
    std::cout << must::eval::metrics_table(result) << std::flush;
    must::app::MetricsLog(context.output_dir / "metrics.jsonl").write(0, result.metrics);
    spdlog::info("wrote {}", (context.output_dir / "metrics.json").string());
  };
  return must::app::run_tool(argc, argv, spec);
}
