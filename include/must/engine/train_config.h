// The `train:` section and the training entry point of must_train_teacher (and, later, the student and the
// fine-tuning protocol): model + data + evaluation + train sections in, a trained run folder out:
//   checkpoint_*.safetensors, last_checkpoint (checkpoint.h), model_final.safetensors (+ _ema), metrics.jsonl
//   (log lines and evaluations), metrics.json (the latest evaluation), config.yaml, log.txt
// A library of its own (must_engine_config): the engine itself needs no YAML and no evaluators.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string_view>

#include "must/config/config.h"
#include "must/engine/hooks.h"
#include "must/engine/optimizer.h"
#include "must/engine/train_defaults.h"
#include "must/engine/trainer.h"
#include "must/losses/loss_weighting.h"

namespace must::engine {

// must_train_teacher's whole schema: model, data, evaluation and train sections (must_eval takes these configs too).
std::string_view train_tool_defaults();

struct TrainOptions {
  int64_t max_iterations = 1000;
  int64_t epochs = 0;  // > 0: epochs x batches per epoch instead of max_iterations
  uint64_t seed = 0;
  OptimizerOptions optimizer;
  LrScheduleOptions schedule;
  TrainerOptions trainer;
  double ema_decay = 0;  // 0: no EMA
  int64_t log_period = 20, eval_period = 0, checkpoint_period = 500;
  int keep_checkpoints = 3;
};
// Throws must::ConfigError naming the key on a bad value.
TrainOptions train_options_from_config(const config::Config& train);

struct TrainRun {
  std::filesystem::path output_dir;
  bool resume = false;                 // continue from the last whole checkpoint in output_dir
  std::filesystem::path init_from;     // weights to start from (overrides model.init_from)
  std::vector<std::string> init_keys;  // the model-key prefixes it fills (overrides model.init_keys when given)
  torch::Device device = torch::kCPU;
  MetricsSink metrics;                 // each log line's and evaluation's values (metrics.jsonl)
  dist::ProcessGroup* group = nullptr;  // data parallel over its ranks (rank 0 checkpoints, evaluates, logs)
};

// Trains the config's model on data.train (data parallel over run.group's ranks, each reading its part of every
// epoch), evaluating on data.eval (when it names a dataset) every
// train.eval_period steps and at the end. Refuses an output folder that holds a run unless resuming (nothing is
// overwritten). Throws must::ConfigError for a bad config, must::Error for a failed run.
void train_model(const config::Config& config, const TrainRun& run);

// What a run trains on, when it is not data.train with its one task (the student's sources, student.h).
struct TrainingData {
  std::shared_ptr<data::Dataset> dataset;             // must label every task of the model (in some samples)
  std::shared_ptr<const data::EpochSampler> sampler;  // each epoch's order; none: a shuffle of the dataset
  losses::WeightingOptions weighting;  // type and per-type values; tasks, student batch and LR are filled in
  std::string config_key;              // where the data is configured (errors about it name this key)
};
void train_model(const config::Config& config, const TrainRun& run, TrainingData data);

// The transfer protocol (must_eval --mode finetune): the config's model — the benchmark's head, fresh — starts from
// the backbone of `weights` (the keys model.init_keys names; backbone.* when it names none), or from scratch when
// `weights` is empty; then trains on data.train and evaluates on data.eval as train_model does, resumable alike.
// model.frozen_modules: [backbone] makes it a linear probe; train.optimizer.backbone_lr_multiplier slows the backbone.
void finetune_model(const config::Config& config, const std::filesystem::path& weights, TrainRun run);

}  // namespace must::engine
