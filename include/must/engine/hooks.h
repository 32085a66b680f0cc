// The trainer's hooks (detectron2's hooks.py): each does one thing around the steps.
//   LrScheduleHook  sets the learning rate before each step (optimizer.h's schedule)
//   EmaHook         updates the weights' moving average after each step; keeps it across resumes
//   CheckpointHook  writes a checkpoint every `period` steps and at the end, then model_final.safetensors (and
//                   model_final_ema.safetensors) with the model's own (torchvision-style) names
//   EvalHook        runs an evaluation every `period` steps and at the end (a callback: the engine does not know
//                   the evaluators; the tools give it one)
//   LoggerHook      every `period` steps: one line (step/total, each loss term, lr, images/s over all ranks, data
//                   wait, memory, ETA, data parallel: the all-reduce wait) and the same values as a JSON line
//                   through a sink (metrics.jsonl)
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "must/engine/checkpoint.h"
#include "must/engine/ema.h"
#include "must/engine/optimizer.h"
#include "must/engine/trainer.h"

namespace must::engine {

// Receives one JSON line's values (step, then name -> value).
using MetricsSink = std::function<void(int64_t step, const std::map<std::string, double>& values)>;

class LrScheduleHook final : public HookBase {
 public:
  LrScheduleHook(OptimizerOptions optimizer, LrScheduleOptions schedule)
      : optimizer_(std::move(optimizer)), schedule_(std::move(schedule)) {}
  void before_step(Trainer& trainer) override;

 private:
  OptimizerOptions optimizer_;  // the base rate and each parameter group's multiplier
  LrScheduleOptions schedule_;
};

class EmaHook final : public HookBase {
 public:
  EmaHook(const torch::nn::Module& model, double decay) : ema_(model, decay) {}
  void after_step(Trainer& trainer) override;
  void save_state(CheckpointContents& contents) const override;
  void load_state(const CheckpointContents& contents) override;
  ModelEma& ema() { return ema_; }

 private:
  ModelEma ema_;
};

class CheckpointHook final : public HookBase {
 public:
  // `metadata` goes into every checkpoint (the resolved config); `ema` (may be null) is exported too.
  CheckpointHook(CheckpointStore store, int64_t period, std::map<std::string, std::string> metadata,
                 std::shared_ptr<EmaHook> ema = nullptr);
  void after_step(Trainer& trainer) override;
  void after_train(Trainer& trainer) override;

 private:
  void save(Trainer& trainer);
  CheckpointStore store_;
  int64_t period_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<EmaHook> ema_;
  int64_t saved_at_ = -1;
};

class EvalHook final : public HookBase {
 public:
  // `evaluate` returns "<dataset>/<task>/<metric>" values; they go to the sink with the step.
  EvalHook(int64_t period, std::function<std::map<std::string, double>(Trainer&)> evaluate, MetricsSink sink);
  void after_step(Trainer& trainer) override;
  void after_train(Trainer& trainer) override;

 private:
  void run(Trainer& trainer);
  int64_t period_;
  std::function<std::map<std::string, double>(Trainer&)> evaluate_;
  MetricsSink sink_;
  int64_t evaluated_at_ = -1;
};

class LoggerHook final : public HookBase {
 public:
  LoggerHook(int64_t period, MetricsSink sink) : period_(period), sink_(std::move(sink)) {}
  void before_train(Trainer& trainer) override;
  void after_step(Trainer& trainer) override;

 private:
  int64_t period_;
  MetricsSink sink_;
  std::map<std::string, double> sums_;  // loss terms since the last line
  int64_t steps_ = 0, images_ = 0, start_iteration_ = 0;
  double seconds_ = 0, data_seconds_ = 0, total_seconds_ = 0, communication_seconds_ = 0;
};

// Resident memory of this process, bytes (0 where /proc is not there).
int64_t resident_bytes();

}  // namespace must::engine
