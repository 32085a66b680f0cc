#include "must/engine/train_config.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/strings.h"
#include "must/data/data_config.h"
#include "must/eval/eval_config.h"
#include "must/eval/evaluation.h"
#include "must/models/model_config.h"
#include "must/models/weight_import.h"

namespace must::engine {

std::string_view train_tool_defaults() {
  static const std::string defaults = std::string(models::model_defaults()) + std::string(data::data_defaults()) +
                                      std::string(eval::evaluation_defaults()) + std::string(train_defaults());
  return defaults;
}

TrainOptions train_options_from_config(const config::Config& node) {
  TrainOptions o;
  auto positive = [](const config::Config& n, const char* key) {
    const int64_t v = n.get_int(key);
    if (v <= 0) n.fail(key, "must be positive");
    return v;
  };
  auto not_negative = [](const config::Config& n, const char* key) {
    const double v = n.get_float(key);
    if (v < 0) n.fail(key, "must not be negative");
    return v;
  };
  o.max_iterations = positive(node, "max_iterations");
  o.epochs = int64_t(not_negative(node, "epochs"));
  o.seed = uint64_t(node.get_int("seed"));
  const config::Config opt = node.at("optimizer");
  o.optimizer.type = opt.get_string("type");
  if (o.optimizer.type != "sgd" && o.optimizer.type != "adamw") opt.fail("type", "must be sgd or adamw");
  o.optimizer.lr = opt.get_float("lr");
  if (o.optimizer.lr <= 0) opt.fail("lr", "must be positive");
  o.optimizer.momentum = not_negative(opt, "momentum");
  o.optimizer.nesterov = opt.get_bool("nesterov");
  if (o.optimizer.nesterov && o.optimizer.momentum == 0) opt.fail("nesterov", "needs momentum > 0");
  o.optimizer.weight_decay = not_negative(opt, "weight_decay");
  o.optimizer.decay_norm_and_bias = opt.get_bool("decay_norm_and_bias");
  const std::vector<double> betas = opt.get_float_list("betas");
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    opt.fail("betas", "must be two values in [0, 1)");
  }
  o.optimizer.betas = {betas[0], betas[1]};
  const double backbone_multiplier = not_negative(opt, "backbone_lr_multiplier");
  // TrainModule holds the model as `model`: its backbone's parameters are model.backbone.*.
  if (backbone_multiplier != 1.0) o.optimizer.lr_multipliers["model.backbone."] = backbone_multiplier;
  const config::Config schedule = node.at("schedule");
  o.schedule.type = schedule.get_string("type");
  try {
    lr_factor(o.schedule, 0, 1);
  } catch (const ConfigError& e) {
    schedule.fail("type", e.what());
  }
  o.schedule.warmup_iterations = int64_t(not_negative(schedule, "warmup_iterations"));
  o.schedule.warmup_factor = not_negative(schedule, "warmup_factor");
  o.schedule.steps = schedule.get_int_list("steps");
  o.schedule.gamma = not_negative(schedule, "gamma");
  o.schedule.power = not_negative(schedule, "power");
  o.schedule.final_factor = not_negative(schedule, "final_factor");
  o.trainer.clip_grad_norm = not_negative(node, "clip_grad_norm");
  o.trainer.sync_batch_norm = node.get_bool("sync_batch_norm");
  try {
    o.trainer.precision = precision_from_name(node.get_string("precision"));
  } catch (const ConfigError& e) {
    node.fail("precision", e.what());
  }
  o.trainer.loss_scaler.initial_scale = node.get_float("loss_scale.initial");
  if (o.trainer.loss_scaler.initial_scale <= 0) node.fail("loss_scale.initial", "must be positive");
  o.trainer.loss_scaler.growth_interval = positive(node, "loss_scale.growth_interval");
  o.ema_decay = node.get_float("ema_decay");
  if (o.ema_decay < 0 || o.ema_decay >= 1) node.fail("ema_decay", "must lie in [0, 1)");
  const std::string non_finite = node.get_string("non_finite");
  if (non_finite != "stop" && non_finite != "skip") node.fail("non_finite", "must be stop or skip");
  o.trainer.non_finite = non_finite == "skip" ? NonFinitePolicy::kSkip : NonFinitePolicy::kStop;
  o.trainer.max_skips_in_a_row = positive(node, "max_skips_in_a_row");
  o.trainer.inject_nan_at = int64_t(not_negative(node, "inject_nan_at"));
  o.log_period = positive(node, "log_period");
  o.eval_period = int64_t(not_negative(node, "eval_period"));
  o.checkpoint_period = positive(node, "checkpoint_period");
  o.keep_checkpoints = int(positive(node, "keep_checkpoints"));
  return o;
}

namespace {

// Whether the config names an evaluation dataset.
bool has_eval_data(const config::Config& config) {
  return !config.get_string("data.eval.root").empty() || !config.get_string("data.eval.annotations").empty();
}

// The evaluation EvalHook runs: the model (and its EMA, under "<dataset>_ema") on data.eval; metrics.json is
// rewritten with the latest values.
std::function<std::map<std::string, double>(Trainer&)> make_evaluation(const config::Config& config,
                                                                      const std::filesystem::path& output_dir,
                                                                      const torch::Device& device,
                                                                      std::shared_ptr<EmaHook> ema) {
  const data::DatasetOptions dataset_options = data::dataset_options_from_config(config.at("data.eval"));
  eval::EvaluationOptions options = eval::evaluation_options_from_config(config.at("evaluation"), dataset_options);
  std::shared_ptr<data::Dataset> dataset = data::make_dataset(dataset_options);
  const auto transform = data::transform_from_config(config.at("data.augment"), /*training=*/false);
  const data::LoaderOptions loader = data::loader_options_from_config(config.at("data.loader"), /*training=*/false);
  return [=](Trainer& trainer) {
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

}  // namespace

void train_model(const config::Config& config, const TrainRun& run) {
  TrainingData data;
  data.dataset = data::make_dataset(data::training_datasets_from_config(config.at("data")));
  data.config_key = "data.train.root";
  train_model(config, run, std::move(data));
}

void train_model(const config::Config& config, const TrainRun& run, TrainingData data) {
  const TrainOptions options = train_options_from_config(config.at("train"));
  const bool has_run = std::filesystem::exists(run.output_dir / "last_checkpoint");
  if (has_run && !run.resume) {
    MUST_THROW(ConfigError, run.output_dir.string(), " already holds a run (last_checkpoint); pass --resume to continue "
               "it or choose another --output-dir");
  }
  torch::manual_seed(options.seed);
  const models::MultiTaskModelOptions model_options = models::model_options_from_config(config.at("model"));
  models::MultiTaskModel model(model_options);
  const std::filesystem::path init_from =
      run.init_from.empty() ? std::filesystem::path(model_options.init_from) : run.init_from;
  if (!init_from.empty() && !(run.resume && has_run)) {
    if (!std::filesystem::exists(init_from)) MUST_THROW(ConfigError, "init from ", init_from.string(), ": no such file");
    models::ImportOptions import;
    import.only = run.init_keys.empty() ? model_options.init_keys : run.init_keys;
    models::load_weights_file(*model, init_from, import);
  }

  // Data: the training set must carry every task the model learns.
  try {
    eval::tasks_to_evaluate(model->tasks(), data.dataset->info().tasks, data.dataset->info());
  } catch (const ConfigError& e) {
    config.fail(data.config_key, e.what());
  }
  data::LoaderOptions loader_options = data::loader_options_from_config(config.at("data.loader"), /*training=*/true);
  loader_options.sampler = data.sampler;
  loader_options.pin_memory = run.device.is_cuda();
  const bool lead = !run.group || run.group->rank() == 0;  // the rank that checkpoints, evaluates and logs
  if (run.group) {
    loader_options.rank = run.group->rank();
    loader_options.world_size = run.group->world_size();
  }
  auto loader = std::make_unique<data::Loader>(data.dataset, data::transform_from_config(config.at("data.augment"), true),
                                               loader_options);
  TrainerOptions trainer_options = options.trainer;
  trainer_options.device = run.device;
  trainer_options.group = run.group;
  trainer_options.max_iterations =
      options.epochs > 0 ? options.epochs * loader->batches_per_epoch() : options.max_iterations;
  trainer_options.epoch_based = options.epochs > 0;

  losses::WeightingOptions weighting = data.weighting;
  weighting.tasks = model->tasks();
  weighting.student_batch_size = double(loader_options.batch_size * loader_options.world_size);
  weighting.student_lr = options.optimizer.lr;
  TrainModule module(model, losses::weighting_registry().create(weighting.type, weighting));
  if (model->tasks().size() > 1) {
    std::string weights;
    for (const auto& [task, weight] : module->weighting->weights()) {
      weights += fmt::format("{}{} {:.4g}", weights.empty() ? "" : ", ", task_name(task), weight);
    }
    spdlog::info("loss weighting {}: {}", weighting.type, weights);
  }
  module->to(run.device);
  auto optimizer = make_optimizer(*module, options.optimizer);
  Trainer trainer(module, std::move(optimizer), std::move(loader), trainer_options);

  // Hook order, before and after each step alike: the schedule sets this step's rate; the EMA takes the new
  // weights before the checkpoint saves them; the checkpoint comes before evaluation, so a failing evaluation
  // loses no training; the logger runs last, with the step's values complete.
  std::vector<std::shared_ptr<HookBase>> hooks = {std::make_shared<LrScheduleHook>(options.optimizer, options.schedule)};
  std::shared_ptr<EmaHook> ema;
  if (options.ema_decay > 0) {
    ema = std::make_shared<EmaHook>(*module->model, options.ema_decay);
    hooks.push_back(ema);
  }
  if (lead) {
    hooks.push_back(std::make_shared<CheckpointHook>(CheckpointStore(run.output_dir, options.keep_checkpoints),
                                                     options.checkpoint_period,
                                                     std::map<std::string, std::string>{{"config", config.dump()}}, ema));
    if (has_eval_data(config)) {
      hooks.push_back(std::make_shared<EvalHook>(options.eval_period,
                                                 make_evaluation(config, run.output_dir, run.device, ema), run.metrics));
    } else {
      spdlog::info("data.eval names no dataset: no evaluation");
    }
    hooks.push_back(std::make_shared<LoggerHook>(options.log_period, run.metrics));
  }
  trainer.register_hooks(hooks);

  if (run.resume) {
    if (auto checkpoint = CheckpointStore(run.output_dir, options.keep_checkpoints).load_latest()) {
      trainer.restore(*checkpoint);
      spdlog::info("resumed at iteration {} (epoch {}, batch {})", trainer.state().iteration, trainer.state().epoch,
                   trainer.state().batch_in_epoch);
    } else {
      spdlog::info("--resume: no checkpoint in {}, starting afresh", run.output_dir.string());
    }
  }
  trainer.train();
}

void finetune_model(const config::Config& config, const std::filesystem::path& weights, TrainRun run) {
  if (weights.empty()) {
    if (!config.get_string("model.init_from").empty()) {
      config.fail("model.init_from", "a from-scratch fine-tune (--weights none) starts from no weights");
    }
    spdlog::info("fine-tuning from scratch: no weights");
  } else {
    run.init_from = weights;
    if (config.get_string_list("model.init_keys").empty()) run.init_keys = {"backbone."};
  }
  train_model(config, run);
}

}  // namespace must::engine
