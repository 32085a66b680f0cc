#include "must/pipelines/evaluate.h"

#include <spdlog/spdlog.h>

#include "must/core/check.h"
#include "must/data/data_config.h"
#include "must/engine/train_defaults.h"
#include "must/eval/eval_config.h"
#include "must/models/model_config.h"
#include "must/models/weight_import.h"
#include "must/pipelines/student.h"

namespace must::pipelines {

std::string_view eval_schema() {
  // Every training tool's schema at once (must_train_teacher's, and must_train_student's sources and student
  // sections), so must_eval reads the config of whatever trained the weights; it uses model, data.eval and
  // evaluation.
  static const std::string defaults = std::string(models::model_defaults()) + std::string(data::data_defaults()) +
                                      std::string(eval::evaluation_defaults()) + std::string(engine::train_defaults()) +
                                      std::string(data::sources_defaults()) + std::string(student_defaults());
  return defaults;
}

namespace {

struct EvalSetup {
  std::shared_ptr<data::Dataset> dataset;
  eval::EvaluationOptions options;
};

EvalSetup setup_from(const config::Config& config) {
  EvalSetup setup;
  const data::DatasetOptions dataset_options = data::dataset_options_from_config(config.at("data.eval"));
  setup.options = eval::evaluation_options_from_config(config.at("evaluation"), dataset_options);
  setup.dataset = data::make_dataset(dataset_options);
  return setup;
}

// eval::tasks_to_evaluate, its errors naming the config key at fault: evaluation.tasks when it lists tasks, else the
// evaluation dataset.
std::vector<Task> checked_tasks(const config::Config& config, const EvalSetup& setup, const std::vector<Task>& predicted) {
  try {
    return eval::tasks_to_evaluate(setup.options.tasks, predicted, setup.dataset->info());
  } catch (const ConfigError& e) {
    if (!setup.options.tasks.empty()) config.at("evaluation").fail("tasks", e.what());
    config.at("data.eval").fail("root", e.what());
  }
}

// --weights, or model.init_from when --weights is not given; both, naming other files, are refused rather than one
// silently winning.
std::filesystem::path weights_to_evaluate(const config::Config& config, const models::MultiTaskModelOptions& options,
                                          const std::filesystem::path& weights) {
  if (weights.empty() && options.init_from.empty()) {
    MUST_THROW(ConfigError, "no weights to evaluate: give --weights FILE (or model.init_from)");
  }
  if (!weights.empty() && !options.init_from.empty() && std::filesystem::path(options.init_from) != weights) {
    config.fail("model.init_from", "names " + options.init_from + " but --weights names " + weights.string() +
                                       ": give the weights to evaluate once");
  }
  const std::filesystem::path file = weights.empty() ? std::filesystem::path(options.init_from) : weights;
  if (!std::filesystem::exists(file)) {
    MUST_THROW(ConfigError, weights.empty() ? "model.init_from " : "--weights ", file.string(), ": no such file");
  }
  return file;
}

}  // namespace

eval::EvaluationResult evaluate_checkpoint(const config::Config& config, const std::filesystem::path& weights,
                                     const std::filesystem::path& output_dir, bool save_predictions,
                                     const torch::Device& device) {
  const models::MultiTaskModelOptions model_options = models::model_options_from_config(config.at("model"));
  EvalSetup setup = setup_from(config);
  // Checked before the weights are read: a config that asks for tasks the dataset lacks fails at once.
  std::vector<Task> model_tasks;
  for (const auto& head : model_options.heads) model_tasks.push_back(head.task);
  checked_tasks(config, setup, model_tasks);

  models::MultiTaskModel model(model_options);
  models::load_complete_weights(*model, weights_to_evaluate(config, model_options, weights));
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
  const eval::EvaluationResult result = eval::evaluate_model(model, setup.dataset, transform, loader, setup.options, device);
  if (save_predictions) {  // the old folder goes aside before the new one takes its name
    const auto old = output_dir / "predictions.old";
    std::filesystem::remove_all(old);
    if (std::filesystem::exists(saved)) std::filesystem::rename(saved, old);
    std::filesystem::rename(partial, saved);
    std::filesystem::remove_all(old);
  }
  eval::write_metrics_json(output_dir / "metrics.json", result);
  return result;
}

eval::EvaluationResult score_saved_predictions(const config::Config& config, const std::filesystem::path& predictions,
                                         const std::filesystem::path& output_dir, int threads) {
  EvalSetup setup = setup_from(config);
  const eval::PredictionReader reader(predictions, *setup.dataset);
  checked_tasks(config, setup, reader.tasks());
  // Class counts of the config's heads, for datasets that name no classes. No model is built: a config without a
  // model section scores too.
  std::map<Task, int64_t> classes;
  const config::Config heads = config.at("model.heads");
  for (const std::string& name : heads.keys()) {
    const Task task = heads.task_named_by(name);
    const int64_t outputs = heads.get_non_negative_int(name + ".num_outputs");
    if (task_spec(task).channels == 0 && outputs > 0) classes[task] = outputs;
  }
  const eval::EvaluationResult result = eval::score_predictions(reader, setup.dataset, setup.options, classes, threads);
  eval::write_metrics_json(output_dir / "metrics.json", result);
  return result;
}

}  // namespace must::pipelines
