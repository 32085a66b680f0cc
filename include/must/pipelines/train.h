// A training run of must_train_teacher (and, through train_model's second form, of the student and the fine-tuning
// protocol): model + data + evaluation + train sections in, a trained run folder out:
//   checkpoint_*.safetensors, last_checkpoint (engine/checkpoint.h), model_final.safetensors (+ _ema),
//   metrics.jsonl (log lines and evaluations), metrics.json (the latest evaluation), config.yaml, log.txt
// The engine underneath (trainer, hooks, optimizers, checkpoints) knows no YAML and no evaluators; this layer
// builds its pieces from the config, as detectron2's DefaultTrainer does: the model, the training loader, the
// hooks, then resume or load.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "must/config/config.h"
#include "must/data/dataset.h"
#include "must/data/loader.h"
#include "must/distributed/process_group.h"
#include "must/engine/hooks.h"
#include "must/losses/loss_weighting.h"

namespace must::pipelines {

// must_train_teacher's whole schema: model, data, evaluation and train sections (must_eval takes these configs too).
std::string_view teacher_schema();

struct TrainRun {
  std::filesystem::path output_dir;
  bool resume = false;                 // continue from the last whole checkpoint in output_dir
  std::filesystem::path init_from;     // weights to start from (overrides model.init_from)
  std::vector<std::string> init_keys;  // the model-key prefixes it fills (overrides model.init_keys when given)
  torch::Device device = torch::kCPU;
  engine::MetricsSink metrics;         // each log line's and evaluation's values (metrics.jsonl)
  distributed::ProcessGroup* group = nullptr;  // data parallel over its ranks (rank 0 checkpoints, evaluates, logs)
};

// Trains the config's model on data.train (data parallel over run.group's ranks, each reading its part of every
// epoch), evaluating on data.eval (when it names a dataset) every train.eval_period steps and at the end. Refuses
// an output folder that holds a run unless resuming (nothing is overwritten). Throws must::ConfigError for a bad
// config, must::Error for a failed run.
void train_model(const config::Config& config, const TrainRun& run);

// What a run trains on, when it is not data.train with its one task (the student's sources, student.h).
struct TrainingData {
  std::shared_ptr<data::Dataset> dataset;             // must label every task of the model (in some samples)
  std::shared_ptr<const data::EpochSampler> sampler;  // each epoch's order; none: a shuffle of the dataset
  losses::WeightingOptions weighting;  // type and per-type values; tasks, student batch and LR are filled in
  std::string config_key;              // where the data is configured (errors about it name this key)
  // Per task, the loss a head takes when the config names none (model.heads.<task>.loss.type ""): what the labels
  // call for (the student: ssi for a relative depth teacher's labels).
  std::map<Task, std::string> default_losses;
};
void train_model(const config::Config& config, const TrainRun& run, TrainingData data);

}  // namespace must::pipelines
