#include "must/eval/eval_config.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cmath>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/strings.h"
#include "must/data/data_config.h"
#include "must/engine/train_defaults.h"
#include "must/models/model_config.h"
#include "must/models/weight_import.h"

namespace must::eval {

std::string_view evaluation_defaults() {
  return R"yaml(
evaluation:
  name: ""                    # the dataset's name in metric keys ("" = <format>_<split>, e.g. world_val)
  tasks: []                   # tasks to score ([] = every task both the model and the dataset have)
  flip: false                 # horizontal test-time flip, averaged (dense tasks and classification)
  progress_seconds: 10        # a progress line with the ETA this often (0 = none)
  detection:
    metric: coco              # coco (COCOeval's 12 numbers), voc2007 (11-point AP), voc2010 (area under the curve)
    voc_strict: false         # VOC: a hit needs IoU > 0.5 (py-faster-rcnn, detectron2) instead of >= (the devkit)
  depth:
    min_depth: 0.001          # metres: ground truth kept in (min, max); predictions clamped to [min, max] (BTS)
    max_depth: 10.0
    crop: none                # none, eigen (NYU's Eigen crop, rows 45..470 and columns 41..600 of 480 x 640)
    median_scaling: false     # scale each prediction by median(truth) / median(prediction) first (Monodepth)
    averaging: image          # image: per-image metrics, then their mean (BTS); pixel: pooled over the split
    units_per_metre: 1000.0   # precision of depth predictions, scored and saved (1000 = millimetres)
)yaml";
}

std::string_view eval_tool_defaults() {
  // Every training tool's schema at once (must_train_teacher's, and must_train_student's sources and student
  // sections), so must_eval reads the config of whatever trained the weights; it uses model, data.eval and
  // evaluation.
  static const std::string defaults = std::string(models::model_defaults()) + std::string(data::data_defaults()) +
                                      std::string(evaluation_defaults()) + std::string(engine::train_defaults()) +
                                      std::string(data::sources_defaults()) + std::string(engine::student_defaults());
  return defaults;
}

EvaluationOptions evaluation_options_from_config(const config::Config& node, const data::DatasetOptions& dataset) {
  EvaluationOptions options;
  options.dataset_name = node.get_string("name");
  if (options.dataset_name.empty()) {
    options.dataset_name = dataset.format + (dataset.split.empty() ? "" : "_" + dataset.split);
    for (char& c : options.dataset_name) {
      if (c == '/' || c == ' ') c = '_';
    }
  }
  if (options.dataset_name.find('/') != std::string::npos) node.fail("name", "must not contain '/' (it starts metric keys)");
  for (const auto& name : node.get_string_list("tasks")) {
    try {
      options.tasks.push_back(task_from_name(name));
    } catch (const ConfigError& e) {
      node.fail("tasks", e.what());
    }
  }
  options.flip = node.get_bool("flip");
  options.progress_seconds = node.get_float("progress_seconds");
  if (options.progress_seconds < 0) node.fail("progress_seconds", "must not be negative");

  const config::Config detection = node.at("detection");
  const std::string metric = detection.get_string("metric");
  if (metric == "coco") {
    options.evaluator.detection = DetectionMetric::kCoco;
  } else if (metric == "voc2007") {
    options.evaluator.detection = DetectionMetric::kVoc2007;
  } else if (metric == "voc2010") {
    options.evaluator.detection = DetectionMetric::kVoc2010;
  } else {
    detection.fail("metric", "must be coco, voc2007 or voc2010");
  }
  options.evaluator.voc_strict = detection.get_bool("voc_strict");

  const config::Config depth = node.at("depth");
  DepthMetricOptions& d = options.evaluator.depth;
  d.min_depth = depth.get_float("min_depth");
  d.max_depth = depth.get_float("max_depth");
  if (d.min_depth < 0) depth.fail("min_depth", "must not be negative");
  if (d.max_depth <= d.min_depth) depth.fail("max_depth", "must be above min_depth");
  const std::string crop = depth.get_string("crop");
  if (crop == "none") {
    d.crop = DepthCrop::kNone;
  } else if (crop == "eigen") {
    d.crop = DepthCrop::kEigen;
  } else {
    depth.fail("crop", "must be none or eigen");
  }
  d.median_scaling = depth.get_bool("median_scaling");
  const std::string averaging = depth.get_string("averaging");
  if (averaging != "image" && averaging != "pixel") depth.fail("averaging", "must be image or pixel");
  d.per_image = averaging == "image";
  options.encoding.depth_units_per_metre = depth.get_float("units_per_metre");
  if (options.encoding.depth_units_per_metre <= 0) depth.fail("units_per_metre", "must be positive");
  if (d.max_depth * options.encoding.depth_units_per_metre > 65535) {
    depth.fail("units_per_metre", "x max_depth exceeds the 16-bit range (65535) depth predictions are stored in; "
                                  "lower units_per_metre");
  }
  return options;
}

namespace {

struct EvalSetup {
  std::shared_ptr<data::Dataset> dataset;
  EvaluationOptions options;
};

EvalSetup setup_from(const config::Config& config) {
  EvalSetup setup;
  const data::DatasetOptions dataset_options = data::dataset_options_from_config(config.at("data.eval"));
  setup.options = evaluation_options_from_config(config.at("evaluation"), dataset_options);
  setup.dataset = data::make_dataset(dataset_options);
  return setup;
}

// tasks_to_evaluate, its errors naming the config key at fault: evaluation.tasks when it lists tasks, else the
// evaluation dataset.
std::vector<Task> checked_tasks(const config::Config& config, const EvalSetup& setup, const std::vector<Task>& predicted) {
  try {
    return tasks_to_evaluate(setup.options.tasks, predicted, setup.dataset->info());
  } catch (const ConfigError& e) {
    if (!setup.options.tasks.empty()) config.at("evaluation").fail("tasks", e.what());
    config.at("data.eval").fail("root", e.what());
  }
}

}  // namespace

EvaluationResult evaluate_checkpoint(const config::Config& config, const std::filesystem::path& weights,
                                     const std::filesystem::path& output_dir, bool save_predictions,
                                     const torch::Device& device) {
  const models::MultiTaskModelOptions model_options = models::model_options_from_config(config.at("model"));
  EvalSetup setup = setup_from(config);
  // Checked before the weights are read: a config that asks for tasks the dataset lacks fails at once.
  std::vector<Task> model_tasks;
  for (const auto& head : model_options.heads) model_tasks.push_back(head.task);
  checked_tasks(config, setup, model_tasks);

  models::MultiTaskModel model(model_options);
  MUST_CHECK(!weights.empty(), "no weights to evaluate");
  if (!std::filesystem::exists(weights)) MUST_THROW(ConfigError, "--weights ", weights.string(), ": no such file");
  models::ImportOptions import;
  const models::ImportReport report = models::load_weights_file(*model, weights, import);
  if (!report.missing.empty()) {
    std::vector<std::string> shown(report.missing.begin(), report.missing.begin() + long(std::min<size_t>(3, report.missing.size())));
    MUST_THROW(Error, weights.string(), ": ", report.missing.size(), " model tensor(s) are not in the file (",
               join(shown), report.missing.size() > shown.size() ? ", ..." : "",
               "); does the config's model section match the one that was trained?");
  }
  model->to(device);
  model->eval();
  if (device.is_cpu()) model->fuse_for_inference();

  // Predictions go to a partial folder, renamed over output_dir/predictions only when the run is complete: a
  // failed run leaves earlier predictions as they were.
  const auto saved = output_dir / "predictions", partial = output_dir / "predictions.partial";
  if (save_predictions) {
    std::filesystem::remove_all(partial);
    setup.options.save_dir = partial;
  }
  data::LoaderOptions loader = data::loader_options_from_config(config.at("data.loader"), /*training=*/false);
  const auto transform = data::transform_from_config(config.at("data.augment"), /*training=*/false);
  const EvaluationResult result = evaluate_model(model, setup.dataset, transform, loader, setup.options, device);
  if (save_predictions) {  // the old folder goes aside before the new one takes its name
    const auto old = output_dir / "predictions.old";
    std::filesystem::remove_all(old);
    if (std::filesystem::exists(saved)) std::filesystem::rename(saved, old);
    std::filesystem::rename(partial, saved);
    std::filesystem::remove_all(old);
  }
  write_metrics_json(output_dir / "metrics.json", result);
  return result;
}

EvaluationResult score_saved_predictions(const config::Config& config, const std::filesystem::path& predictions,
                                         const std::filesystem::path& output_dir, int threads) {
  EvalSetup setup = setup_from(config);
  const PredictionReader reader(predictions, *setup.dataset);
  checked_tasks(config, setup, reader.tasks());
  // Class counts of the config's heads, for datasets that name no classes.
  std::map<Task, int64_t> classes;
  for (const auto& head : models::model_options_from_config(config.at("model")).heads) {
    if (task_spec(head.task).channels == 0 && head.num_outputs > 0) classes[head.task] = head.num_outputs;
  }
  const EvaluationResult result = score_predictions(reader, setup.dataset, setup.options, classes, threads);
  write_metrics_json(output_dir / "metrics.json", result);
  return result;
}

void write_metrics_json(const std::filesystem::path& path, const EvaluationResult& result) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& [key, value] : result.metrics) json[key] = std::isfinite(value) ? nlohmann::ordered_json(value) : nullptr;
  atomic_write_file(path, json.dump(2) + "\n");
}

}  // namespace must::eval
