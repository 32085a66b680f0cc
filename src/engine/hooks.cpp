#include "must/engine/hooks.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "must/core/check.h"

namespace must::engine {
namespace {

std::string duration_text(double seconds) {
  const int64_t s = int64_t(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(text, sizeof(text), "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return text;
}

}  // namespace

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * int64_t(sysconf(_SC_PAGESIZE));
}

void LrScheduleHook::before_step(Trainer& trainer) {
  const double factor = lr_factor(schedule_, trainer.state().iteration, trainer.state().max_iterations);
  set_learning_rate(trainer.optimizer(), optimizer_, factor);
  trainer.state().lr = optimizer_.lr * factor;
}

void EmaHook::after_step(Trainer& trainer) { ema_.update(*trainer.module()->model); }

void EmaHook::save_state(CheckpointContents& contents) const {
  for (const auto& [name, tensor] : ema_.state()) contents.tensors.emplace_back("ema/" + name, tensor);
}

void EmaHook::load_state(const CheckpointContents& contents) {
  models::StateDict saved;
  for (const auto& [key, tensor] : contents.tensors) {
    if (key.rfind("ema/", 0) == 0) saved.emplace_back(key.substr(4), tensor);
  }
  MUST_CHECK(!saved.empty(), "the checkpoint has no EMA weights, but this run keeps an EMA (train.ema)");
  ema_.load(saved);
}

CheckpointHook::CheckpointHook(CheckpointStore store, int64_t period, std::map<std::string, std::string> metadata,
                               std::shared_ptr<EmaHook> ema)
    : store_(std::move(store)), period_(period), metadata_(std::move(metadata)), ema_(std::move(ema)) {}

void CheckpointHook::save(Trainer& trainer) {
  const auto path = store_.save(trainer.state().iteration, trainer.checkpoint(metadata_));
  trainer.state().last_checkpoint = path.string();
  saved_at_ = trainer.state().iteration;
  spdlog::info("saved {}", path.string());
}

void CheckpointHook::after_step(Trainer& trainer) {
  if (period_ > 0 && trainer.state().iteration % period_ == 0) save(trainer);
}

void CheckpointHook::after_train(Trainer& trainer) {
  if (saved_at_ != trainer.state().iteration) save(trainer);
  // The weights alone, named as the model names them (torchvision's names for the backbone), for other tools.
  const auto final_weights = store_.dir() / "model_final.safetensors";
  models::write_safetensors(final_weights, models::module_state_dict(*trainer.module()->model),
                            {{"iteration", std::to_string(trainer.state().iteration)}});
  spdlog::info("wrote {}", final_weights.string());
  if (ema_) {
    models::write_safetensors(store_.dir() / "model_final_ema.safetensors", ema_->ema().state(),
                              {{"iteration", std::to_string(trainer.state().iteration)},
                               {"ema_decay", std::to_string(ema_->ema().decay())}});
  }
}

EvalHook::EvalHook(int64_t period, std::function<std::map<std::string, double>(Trainer&)> evaluate, MetricsSink sink)
    : period_(period), evaluate_(std::move(evaluate)), sink_(std::move(sink)) {}

void EvalHook::run(Trainer& trainer) {
  evaluated_at_ = trainer.state().iteration;
  sink_(trainer.state().iteration, evaluate_(trainer));
}

void EvalHook::after_step(Trainer& trainer) {
  const int64_t i = trainer.state().iteration;
  if (period_ > 0 && i % period_ == 0 && i < trainer.state().max_iterations) run(trainer);
}

void EvalHook::after_train(Trainer& trainer) {
  if (evaluated_at_ != trainer.state().iteration) run(trainer);
}

void LoggerHook::before_train(Trainer& trainer) { start_iteration_ = trainer.state().iteration; }

void LoggerHook::after_step(Trainer& trainer) {
  const TrainState& s = trainer.state();
  for (const auto& [key, value] : s.losses) sums_[key] += value;
  ++steps_;
  // Data parallel: every rank steps on a batch of its own; the rate counts all of them.
  images_ += s.images * trainer.world_size();
  seconds_ += s.step_seconds;
  data_seconds_ += s.data_seconds;
  communication_seconds_ += s.communication_seconds;
  total_seconds_ += s.step_seconds;
  if (s.iteration % period_ != 0 && s.iteration != s.max_iterations) return;
  std::map<std::string, double> values;
  std::string line = "iter " + std::to_string(s.iteration) + "/" + std::to_string(s.max_iterations);
  char text[96];
  for (const auto& [key, sum] : sums_) {
    values[key] = sum / double(steps_);
    std::snprintf(text, sizeof(text), "  %s %.4g", key.c_str(), values[key]);
    line += text;
  }
  const double rate = double(images_) / std::max(seconds_, 1e-9);
  const double done = double(s.iteration - start_iteration_);
  const double eta = done > 0 ? total_seconds_ / done * double(s.max_iterations - s.iteration) : 0;
  values["lr"] = s.lr;
  values["grad_norm"] = s.grad_norm;
  values["time/images_per_s"] = rate;
  values["time/data_wait"] = data_seconds_ / std::max(seconds_, 1e-9);
  values["time/eta_s"] = eta;
  values["memory/resident_gib"] = double(resident_bytes()) / double(1ll << 30);
  if (s.skipped > 0) values["skipped_batches"] = double(s.skipped);
  // The loss weights in force (uncertainty's change as it learns); in the line too when there are several tasks.
  const std::map<Task, double> weights = trainer.module()->weighting->weights();
  std::string weights_text;
  for (const auto& [task, weight] : weights) {
    values["weight/" + std::string(task_name(task))] = weight;
    weights_text += fmt::format(" {} {:.3g}", task_name(task), weight);
  }
  if (weights.size() > 1) line += "  weights" + weights_text;
  std::snprintf(text, sizeof(text), "  lr %.3g  %.1f images/s  data %.0f%%  mem %.2f GiB  ETA %s", s.lr, rate,
                100 * values["time/data_wait"], values["memory/resident_gib"], duration_text(eta).c_str());
  std::string communication;
  if (trainer.options().group) {  // the wait for the gradient all-reduce after backward, per step
    values["time/allreduce_wait_s"] = communication_seconds_ / double(steps_);
    communication = fmt::format("  all-reduce wait {:.1f} ms/step", 1000 * values["time/allreduce_wait_s"]);
  }
  spdlog::info("{}{}{}", line, text, communication);
  sink_(s.iteration, values);
  sums_.clear();
  steps_ = images_ = 0;
  seconds_ = data_seconds_ = communication_seconds_ = 0;
}

}  // namespace must::engine
