#include "must/pipelines/train.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/data/data_config.h"
#include "must/engine/train_config.h"
#include "must/engine/train_defaults.h"
#include "must/eval/eval_config.h"
#include "must/eval/evaluation.h"
#include "must/models/model_config.h"
#include "must/models/weight_import.h"

namespace must::pipelines {
namespace {

// Whether the config names an evaluation dataset.
bool has_eval_data(const config::Config& config) {
  return !config.get_string("data.eval.root").empty() || !config.get_string("data.eval.annotations").empty();
}

// The evaluation EvalHook runs: the model (and its EMA, under "<dataset>_ema") on data.eval; metrics.json is
// rewritten with the latest values.
std::function<std::map<std::string, double>(engine::Trainer&)> make_evaluation(const config::Config& config,
                                                                              const std::filesystem::path& output_dir,
                                                                              const torch::Device& device,
                                                                              std::shared_ptr<engine::EmaHook> ema) {
  const data::DatasetOptions dataset_options = data::dataset_options_from_config(config.at("data.eval"));
  eval::EvaluationOptions options = eval::evaluation_options_from_config(config.at("evaluation"), dataset_options);
  std::shared_ptr<data::Dataset> dataset = data::make_dataset(dataset_options);
  const auto transform = data::transform_from_config(config.at("data.augment"), /*training=*/false);
  const data::LoaderOptions loader = data::loader_options_from_config(config.at("data.loader"), /*training=*/false);
  return [=](engine::Trainer& trainer) {
    models::MultiTaskModel model = trainer.module()->model;
    eval::EvaluationResult result = eval::evaluate_model(model, dataset, transform, loader, options, device);
    spdlog::info("evaluation at iteration {}:\n{}", trainer.state().iteration, eval::metrics_table(result));
    if (ema) {
      ema->ema().swap_into(*model);
      eval::EvaluationOptions ema_options = options;
      ema_options.dataset_name += "_ema";
      const eval::EvaluationResult averaged = eval::evaluate_model(model, dataset, transform, loader, ema_options, device);
      ema->ema().swap_into(*model);
      result.metrics.insert(averaged.metrics.begin(), averaged.metrics.end());
    }
    eval::write_metrics_json(output_dir / "metrics.json", result);
    return result.metrics;
  };
}

// The weights a fresh run starts from (run.init_from over model.init_from; none: the model's own initialisation),
// loaded into the model's keys that run.init_keys (else model.init_keys) names.
void load_initial_weights(models::MultiTaskModelImpl& model, const models::MultiTaskModelOptions& options,
                          const TrainRun& run) {
  const std::filesystem::path init_from = run.init_from.empty() ? std::filesystem::path(options.init_from) : run.init_from;
  if (init_from.empty()) return;
  if (!std::filesystem::exists(init_from)) MUST_THROW(ConfigError, "init from ", init_from.string(), ": no such file");
  models::ImportOptions import;
  import.only = run.init_keys.empty() ? options.init_keys : run.init_keys;
  models::load_weights_file(model, init_from, import);
}

// The loader of this rank's part of each epoch of the training data, with data.augment's training transform.
// The data must carry every task the model learns.
std::unique_ptr<data::Loader> build_train_loader(const config::Config& config, const TrainRun& run,
                                                 const TrainingData& data, const std::vector<Task>& model_tasks) {
  try {
    eval::tasks_to_evaluate(model_tasks, data.dataset->info().tasks, data.dataset->info());
  } catch (const ConfigError& e) {
    config.fail(data.config_key, e.what());
  }
  data::LoaderOptions loader_options = data::loader_options_from_config(config.at("data.loader"), /*training=*/true);
  loader_options.sampler = data.sampler;
  loader_options.pin_memory = run.device.is_cuda();
  if (run.group) {
    loader_options.rank = run.group->rank();
    loader_options.world_size = run.group->world_size();
  }
  return std::make_unique<data::Loader>(data.dataset, data::transform_from_config(config.at("data.augment"), true),
                                        loader_options);
}

// The model and the loss weighting as one module, on the run's device. The paper weighting takes the student's
// batch over all ranks and its base rate.
engine::TrainModule build_module(models::MultiTaskModel model, losses::WeightingOptions weighting,
                                 int64_t global_batch_size, double lr, const torch::Device& device) {
  weighting.tasks = model->tasks();
  weighting.student_batch_size = double(global_batch_size);
  weighting.student_lr = lr;
  engine::TrainModule module(model, losses::weighting_registry().create(weighting.type, weighting));
  if (model->tasks().size() > 1) {
    std::string weights;
    for (const auto& [task, weight] : module->weighting->weights()) {
      weights += fmt::format("{}{} {:.4g}", weights.empty() ? "" : ", ", task_name(task), weight);
    }
    spdlog::info("loss weighting {}: {}", weighting.type, weights);
  }
  module->to(device);
  return module;
}

// The hooks, in the order they run, before and after each step alike: the schedule sets this step's rate; the EMA
// takes the new weights before the checkpoint saves them; the checkpoint comes before evaluation, so a failing
// evaluation loses no training; the logger runs last, with the step's values complete. Only the lead rank (rank 0)
// checkpoints, evaluates and logs.
std::vector<std::shared_ptr<engine::HookBase>> build_hooks(const config::Config& config, const TrainRun& run,
                                                           const engine::TrainOptions& options,
                                                           const engine::TrainModule& module) {
  std::vector<std::shared_ptr<engine::HookBase>> hooks = {
      std::make_shared<engine::LrScheduleHook>(options.optimizer, options.schedule)};
  std::shared_ptr<engine::EmaHook> ema;
  if (options.ema_decay > 0) {
    ema = std::make_shared<engine::EmaHook>(*module->model, options.ema_decay);
    hooks.push_back(ema);
  }
  const bool lead = !run.group || run.group->rank() == 0;
  if (!lead) return hooks;
  hooks.push_back(std::make_shared<engine::CheckpointHook>(
      engine::CheckpointStore(run.output_dir, options.keep_checkpoints), options.checkpoint_period,
      std::map<std::string, std::string>{{"config", config.dump()}}, ema));
  if (has_eval_data(config)) {
    hooks.push_back(std::make_shared<engine::EvalHook>(options.eval_period,
                                                       make_evaluation(config, run.output_dir, run.device, ema),
                                                       run.metrics));
  } else {
    spdlog::info("data.eval names no dataset: no evaluation");
  }
  hooks.push_back(std::make_shared<engine::LoggerHook>(options.log_period, run.metrics));
  return hooks;
}

// --resume: the trainer continues from the newest whole checkpoint in the output folder (none: a fresh start).
void resume(engine::Trainer& trainer, const TrainRun& run, int keep_checkpoints) {
  if (auto checkpoint = engine::CheckpointStore(run.output_dir, keep_checkpoints).load_latest()) {
    trainer.restore(*checkpoint);
    spdlog::info("resumed at iteration {} (epoch {}, batch {})", trainer.state().iteration, trainer.state().epoch,
                 trainer.state().batch_in_epoch);
  } else {
    spdlog::info("--resume: no checkpoint in {}, starting afresh", run.output_dir.string());
  }
}

}  // namespace

std::string_view teacher_schema() {
  static const std::string defaults = std::string(models::model_defaults()) + std::string(data::data_defaults()) +
                                      std::string(eval::evaluation_defaults()) + std::string(engine::train_defaults());
  return defaults;
}

void train_model(const config::Config& config, const TrainRun& run) {
  TrainingData data;
  data.dataset = data::make_dataset(data::training_datasets_from_config(config.at("data")));
  data.config_key = "data.train.root";
  train_model(config, run, std::move(data));
}

void train_model(const config::Config& config, const TrainRun& run, TrainingData data) {
  const engine::TrainOptions options = engine::train_options_from_config(config.at("train"));
  const bool has_run = std::filesystem::exists(run.output_dir / "last_checkpoint");
  if (has_run && !run.resume) {
    MUST_THROW(ConfigError, run.output_dir.string(), " already holds a run (last_checkpoint); pass --resume to continue "
               "it or choose another --output-dir");
  }
  torch::manual_seed(options.seed);  // before the model draws its initial weights
  models::MultiTaskModelOptions model_options = models::model_options_from_config(config.at("model"));
  for (auto& head : model_options.heads) {
    const auto loss = data.default_losses.find(head.task);
    if (head.loss.type.empty() && loss != data.default_losses.end()) head.loss.type = loss->second;
  }
  models::MultiTaskModel model(model_options);
  if (!(run.resume && has_run)) load_initial_weights(*model, model_options, run);

  std::unique_ptr<data::Loader> loader = build_train_loader(config, run, data, model->tasks());
  engine::TrainerOptions trainer_options = options.trainer;
  trainer_options.device = run.device;
  trainer_options.group = run.group;
  trainer_options.max_iterations =
      options.epochs > 0 ? options.epochs * loader->batches_per_epoch() : options.max_iterations;
  trainer_options.epoch_based = options.epochs > 0;
  trainer_options.checkpoint_period = options.checkpoint_period;
  const int64_t world_size = run.group ? run.group->world_size() : 1;
  engine::TrainModule module =
      build_module(model, data.weighting, loader->batch_size() * world_size, options.optimizer.lr, run.device);
  auto optimizer = engine::make_optimizer(*module, options.optimizer);
  engine::Trainer trainer(module, std::move(optimizer), std::move(loader), trainer_options);
  trainer.register_hooks(build_hooks(config, run, options, module));
  if (run.resume) resume(trainer, run, options.keep_checkpoints);
  trainer.train();
}

}  // namespace must::pipelines
