#include "must/engine/train_defaults.h"

namespace must::engine {

std::string_view train_defaults() {
  return R"yaml(
train:
  max_iterations: 1000        # optimizer steps; see epochs
  epochs: 0                   # > 0: this many passes over data.train instead of max_iterations
  seed: 0                     # model initialisation and the samplers' generator (data order: data.loader.seed)
  optimizer:
    type: sgd                 # sgd or adamw
    lr: 0.02                  # base learning rate
    momentum: 0.9             # sgd
    nesterov: false           # sgd
    weight_decay: 0.0001      # not applied to norm layers and biases (1-D parameters) ...
    decay_norm_and_bias: false  # ... unless this is true
    betas: [0.9, 0.999]       # adamw
    backbone_lr_multiplier: 1.0  # the backbone (ResNet + FPN) learns at lr x this (fine-tuning: e.g. 0.1)
  schedule:
    type: cosine              # constant, cosine, step or poly, after the warm-up
    warmup_iterations: 0      # linear warm-up from warmup_factor x lr to lr
    warmup_factor: 0.001
    steps: []                 # step: iterations at which the rate is multiplied by gamma
    gamma: 0.1
    power: 0.9                # poly
    final_factor: 0.0         # cosine: the rate at the last step, as a fraction of lr
  clip_grad_norm: 0.0         # cap on the global gradient norm (0 = off)
  sync_batch_norm: false      # data parallel: batch norms not frozen normalise over every rank's batch (as
                              # torch.nn.SyncBatchNorm); every head then runs backward on every rank, every step
  precision: fp32             # fp32, bf16 or fp16 autocast of the forward pass on CUDA (other devices: fp32)
  loss_scale:                 # fp16 only: dynamic loss scaling, as torch.cuda.amp.GradScaler
    initial: 65536.0
    growth_interval: 2000     # good steps before the scale doubles; an overflow halves it and skips the step
  ema_decay: 0.0              # > 0 (e.g. 0.999): keep a moving average of the weights, evaluated and saved beside them
  non_finite: stop            # a NaN/Inf loss or gradient: stop (naming the step), or skip the batch
  max_skips_in_a_row: 5       # skip: stop after this many non-finite batches in a row
  inject_nan_at: 0            # tests: step k's loss becomes NaN (0 = never)
  log_period: 20              # a progress line (and a metrics.jsonl line) every this many steps
  eval_period: 0              # evaluate on data.eval every this many steps (0 = at the end only)
  checkpoint_period: 500      # a checkpoint every this many steps, and at the end
  keep_checkpoints: 3         # the newest this many are kept
)yaml";
}

}  // namespace must::engine
