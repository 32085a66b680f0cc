// The training loop (detectron2's TrainerBase + HookBase): a small loop that takes a batch, computes the losses,
// steps the optimizer, and calls its hooks around each step. Learning-rate schedule, checkpoints, evaluation,
// EMA and logging are hooks (hooks.h); the code that builds the list orders it and says why.
//
// A step: the next batch (a new epoch when one ends), on the device; the losses (TrainModule), under autocast
// when the precision says so (mixed_precision.h); a loss or a gradient norm that is not finite stops the run
// naming the step, the loss terms and the last checkpoint, or, with NonFinitePolicy::kSkip, drops the batch and
// counts it (stopping after max_skips_in_a_row in a row): the optimizer never steps on NaN or Inf. Otherwise
// backward, optional clipping of the global gradient norm, step. With fp16 loss scaling, Inf/NaN gradients are
// the scaler's business first: the step is skipped and the scale backs off, as GradScaler does.
//
// Data parallel (options.group with more than one rank): at the start of train() every rank takes rank 0's
// parameters and buffers; each step's gradients are averaged over the ranks as backward produces them
// (distributed::GradientReducer), so every rank steps with the same gradients and the parameters stay bit-identical. A
// non-finite loss on any rank skips (or stops) the step on every rank. Each rank's loader reads its own part of
// each epoch (LoaderOptions rank and world_size); which ranks write checkpoints and logs is the hooks' business.
//
// On CUDA the batch of the step after this one is taken from the loader and its copy to the device queued before
// this step's backward (structures::DeviceTransfer: on a stream of its own, so that the copy runs under backward's
// kernels, and the step that uses it waits for it on the GPU, not the host); on the CPU a step takes its batch when
// it starts. The position checkpointed is the last batch a step used, never the one staged ahead.
//
// Resume: checkpoint() holds the module, the optimizer, the RNG states, the loader position (epoch, batch) and
// each hook's state; restore() puts all of it back, so the resumed run continues the same loss curve.
#pragma once

#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "must/data/loader.h"
#include "must/distributed/gradient_reducer.h"
#include "must/engine/checkpoint.h"
#include "must/engine/mixed_precision.h"
#include "must/engine/train_module.h"
#include "must/structures/device_transfer.h"

namespace must::engine {

struct TrainState {
  int64_t iteration = 0;       // completed steps
  int64_t max_iterations = 0;
  int64_t epoch = 0;           // the loader epoch the next batch comes from
  int64_t batch_in_epoch = 0;  // batches of it already taken
  int64_t skipped = 0, skipped_in_a_row = 0;  // batches dropped for a non-finite loss
  int64_t scaler_skipped = 0;                 // fp16 steps skipped by the loss scaler (overflowing gradients)
  std::string last_checkpoint;  // path of the newest checkpoint written (for messages)
  // The last step, for the hooks:
  std::map<std::string, double> losses;  // its "loss/<task>/<term>" values and "loss/total"
  double grad_norm = 0;
  double lr = 0;
  int64_t images = 0;
  double step_seconds = 0, data_seconds = 0;
  double communication_seconds = 0;  // data parallel: waited for the gradient all-reduce after backward
};

class Trainer;

class HookBase {
 public:
  virtual ~HookBase() = default;
  virtual void before_train(Trainer&) {}
  virtual void after_train(Trainer&) {}
  virtual void before_step(Trainer&) {}
  virtual void after_step(Trainer&) {}
  // What the hook keeps across a resume, in a checkpoint's tensors and metadata.
  virtual void save_state(CheckpointContents&) const {}
  virtual void load_state(const CheckpointContents&) {}
};

enum class NonFinitePolicy { kStop, kSkip };

struct TrainerOptions {
  int64_t max_iterations = 1;
  bool epoch_based = false;  // max_iterations is whole epochs: a resume on another layout recounts the steps done
  double clip_grad_norm = 0;                       // 0: no clipping
  NonFinitePolicy non_finite = NonFinitePolicy::kStop;
  int64_t max_skips_in_a_row = 5;
  int64_t inject_nan_at = 0;                       // for tests: step k's loss (1-based) is made NaN; 0: never
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFloat32;       // on CUDA; other devices run fp32
  LossScalerOptions loss_scaler;                   // used when the step runs in fp16
  distributed::ProcessGroup* group = nullptr;             // data parallel over its ranks; null: this process alone
  distributed::GradientReducerOptions buckets;
  bool sync_batch_norm = false;  // data parallel: batch norms that are not frozen take every rank's batch (SyncBN)
  // The checkpoints' period in steps (0: at the end only), as the checkpoint hook saves them. Data parallel: at those
  // steps and at the end every rank hands its random generators' states to rank 0, whose checkpoint keeps them per
  // rank, so that a resume on as many ranks draws what the uninterrupted run would have drawn (the detector samples
  // its anchors and RoIs at random, each rank from its own generator).
  int64_t checkpoint_period = 0;
};

class Trainer {
 public:
  Trainer(TrainModule module, std::unique_ptr<torch::optim::Optimizer> optimizer, std::unique_ptr<data::Loader> loader,
          TrainerOptions options);
  // Hooks run in the order given, before_* and after_* alike.
  void register_hooks(std::vector<std::shared_ptr<HookBase>> hooks);
  // Runs from state().iteration to max_iterations.
  void train();

  CheckpointContents checkpoint(std::map<std::string, std::string> metadata = {}) const;
  void restore(const CheckpointContents& contents);

  TrainState& state() { return state_; }
  const TrainState& state() const { return state_; }
  TrainModule& module() { return module_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const TrainerOptions& options() const { return options_; }
  Precision precision() const { return precision_; }
  const LossScaler& loss_scaler() const { return scaler_; }
  int64_t world_size() const;  // ranks training together (1: this process alone)

 private:
  // A batch taken from the loader, its copy to the device queued. The host batch is not kept: a pinned buffer
  // freed while its copy is in flight is held back by the CUDA host allocator until the copy is done.
  struct StagedBatch {
    structures::DeviceTransfer::InFlight on_device;
    int64_t epoch = 0, batch_in_epoch = 0;  // the loader position once this batch is used
  };
  // Why a step's gradients may not update the weights.
  enum class StepFault {
    kNone,
    kLoss,                // this rank's loss is not finite
    kLossOnAnotherRank,   // data parallel: another rank's is not
    kGradientNorm,        // the global gradient norm is not finite
    kLossScaleOverflow,   // fp16: the gradients overflow at this loss scale (the scaler's business, not the model's)
  };
  // What becomes of a step: its update applied, or skipped (the batch dropped), or the run stopped (an error).
  enum class StepOutcome { kApplied, kSkipped, kStopped };

  void run_step();
  // Data parallel: every rank's generator states into rank_cpu_generators_ and rank_cuda_generators_ (a collective).
  void gather_generator_states();
  void restore_rank_generators(const CheckpointContents& contents);  // this rank's own, where the checkpoint has it
  // The batch's losses (under autocast), their values in state_.losses.
  StepLosses compute_losses(const structures::DeviceTransfer::InFlight& batch, int64_t step);
  // Backward (and, data parallel, the gradient exchange), then the checks of the losses and gradients.
  StepFault backward_and_check(const StepLosses& losses, bool loss_finite);
  StepOutcome outcome_of(StepFault fault) const;  // by NonFinitePolicy and the skips in a row
  void finish_step(StepOutcome outcome, StepFault fault, int64_t step);
  std::optional<data::Batch> next_batch();
  void stage_next_batch();  // the loader's next batch into staged_, its copy queued
  // The staged batch (staged now if none is), ready for this step's stream.
  StagedBatch take_batch();

  TrainModule module_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<data::Loader> loader_;
  TrainerOptions options_;
  std::vector<std::shared_ptr<HookBase>> hooks_;
  Precision precision_;  // the one the steps run in
  LossScaler scaler_;
  TrainState state_;
  // The loader's position: ahead of state_'s (the batches steps have used) by the staged batch.
  int64_t loader_epoch_ = 0, loader_batch_in_epoch_ = 0;
  bool epoch_started_ = false;
  std::optional<StagedBatch> staged_;  // the next step's batch
  structures::DeviceTransfer transfer_;
  std::unique_ptr<distributed::GradientReducer> reducer_;  // data parallel only
  // Data parallel: each rank's CPU (and CUDA) generator state at the last checkpoint step, in rank order.
  std::vector<std::string> rank_cpu_generators_, rank_cuda_generators_;
};

}  // namespace must::engine
