// The `train:` section mapped to the engine's options. A library of its own (must_engine_config): the engine itself
// needs no YAML. The section's commented defaults are train_defaults.h's.
#pragma once

#include <cstdint>

#include "must/config/config.h"
#include "must/engine/optimizer.h"
#include "must/engine/trainer.h"

namespace must::engine {

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

}  // namespace must::engine
