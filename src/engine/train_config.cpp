#include "must/engine/train_config.h"

#include "must/core/check.h"

namespace must::engine {

TrainOptions train_options_from_config(const config::Config& node) {
  TrainOptions o;
  o.max_iterations = node.get_positive_int("max_iterations");
  o.epochs = node.get_non_negative_int("epochs");
  o.seed = uint64_t(node.get_int("seed"));
  const config::Config opt = node.at("optimizer");
  o.optimizer.type = opt.get_string("type");
  if (o.optimizer.type != "sgd" && o.optimizer.type != "adamw") opt.fail("type", "must be sgd or adamw");
  o.optimizer.lr = opt.get_positive_float("lr");
  o.optimizer.momentum = opt.get_non_negative_float("momentum");
  o.optimizer.nesterov = opt.get_bool("nesterov");
  if (o.optimizer.nesterov && o.optimizer.momentum == 0) opt.fail("nesterov", "needs momentum > 0");
  o.optimizer.weight_decay = opt.get_non_negative_float("weight_decay");
  o.optimizer.decay_norm_and_bias = opt.get_bool("decay_norm_and_bias");
  const std::vector<double> betas = opt.get_float_list("betas");
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    opt.fail("betas", "must be two values in [0, 1)");
  }
  o.optimizer.betas = {betas[0], betas[1]};
  const double backbone_multiplier = opt.get_non_negative_float("backbone_lr_multiplier");
  // TrainModule holds the model as `model`: its backbone's parameters are model.backbone.*.
  if (backbone_multiplier != 1.0) o.optimizer.lr_multipliers["model.backbone."] = backbone_multiplier;
  const config::Config schedule = node.at("schedule");
  o.schedule.type = schedule.get_string("type");
  try {
    lr_factor(o.schedule, 0, 1);
  } catch (const ConfigError& e) {
    schedule.fail("type", e.what());
  }
  o.schedule.warmup_iterations = schedule.get_non_negative_int("warmup_iterations");
  o.schedule.warmup_factor = schedule.get_non_negative_float("warmup_factor");
  o.schedule.steps = schedule.get_int_list("steps");
  o.schedule.gamma = schedule.get_non_negative_float("gamma");
  o.schedule.power = schedule.get_non_negative_float("power");
  o.schedule.final_factor = schedule.get_non_negative_float("final_factor");
  o.trainer.clip_grad_norm = node.get_non_negative_float("clip_grad_norm");
  o.trainer.sync_batch_norm = node.get_bool("sync_batch_norm");
  try {
    o.trainer.precision = precision_from_name(node.get_string("precision"));
  } catch (const ConfigError& e) {
    node.fail("precision", e.what());
  }
  o.trainer.loss_scaler.initial_scale = node.get_positive_float("loss_scale.initial");
  o.trainer.loss_scaler.growth_interval = node.get_positive_int("loss_scale.growth_interval");
  o.ema_decay = node.get_float("ema_decay");
  if (o.ema_decay < 0 || o.ema_decay >= 1) node.fail("ema_decay", "must lie in [0, 1)");
  const std::string non_finite = node.get_string("non_finite");
  if (non_finite != "stop" && non_finite != "skip") node.fail("non_finite", "must be stop or skip");
  o.trainer.non_finite = non_finite == "skip" ? NonFinitePolicy::kSkip : NonFinitePolicy::kStop;
  o.trainer.max_skips_in_a_row = node.get_positive_int("max_skips_in_a_row");
  o.trainer.inject_nan_at = node.get_non_negative_int("inject_nan_at");
  o.log_period = node.get_positive_int("log_period");
  o.eval_period = node.get_non_negative_int("eval_period");
  o.checkpoint_period = node.get_positive_int("checkpoint_period");
  o.keep_checkpoints = int(node.get_positive_int("keep_checkpoints"));
  return o;
}

}  // namespace must::engine
