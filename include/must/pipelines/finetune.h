// The transfer protocol (must_eval --mode finetune): a checkpoint's backbone under the benchmark's fresh head,
// trained on the benchmark's training split, then scored on its evaluation split.
#pragma once

#include <filesystem>

#include "must/config/config.h"
#include "must/pipelines/train.h"

namespace must::pipelines {

// The config's model — the benchmark's head, fresh — starts from the backbone of `weights` (the keys
// model.init_keys names; backbone.* when it names none), or from scratch when `weights` is empty; then trains on
// data.train and evaluates on data.eval as train_model does, resumable alike. model.frozen_modules: [backbone]
// makes it a linear probe; train.optimizer.backbone_lr_multiplier slows the backbone.
void finetune_model(const config::Config& config, const std::filesystem::path& weights, TrainRun run);

}  // namespace must::pipelines
