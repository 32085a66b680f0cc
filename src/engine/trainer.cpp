#include "must/engine/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>

#include "must/core/check.h"
#include "must/core/sha256.h"
#include "must/core/strings.h"
#include "must/models/batch_norm.h"
#include "must/models/weight_import.h"

namespace must::engine {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

constexpr const char* kFormat = "must-checkpoint-1";

// The tensor of `contents` named `name`, or an undefined tensor.
torch::Tensor find(const CheckpointContents& contents, const std::string& name) {
  for (const auto& [key, tensor] : contents.tensors) {
    if (key == name) return tensor;
  }
  return {};
}

int64_t metadata_int(const CheckpointContents& contents, const std::string& key) {
  const auto found = contents.metadata.find(key);
  MUST_CHECK(found != contents.metadata.end(), "the checkpoint has no '", key, "'");
  return std::stoll(found->second);
}

// Synchronised batch norm's sums over the ranks, on a process group of their own: they run inside forward and
// backward, in an order of their own, while the gradient buckets' all-reduces are in flight on the run's group.
class ProcessGroupSum : public models::CrossRankSum {
 public:
  explicit ProcessGroupSum(std::unique_ptr<distributed::ProcessGroup> group) : group_(std::move(group)) {}
  torch::Tensor sum(const torch::Tensor& local) override {
    torch::Tensor total = local.contiguous().clone();
    group_->all_reduce_sum(total, "synchronised batch norm statistics").wait();
    return total;
  }

 private:
  std::unique_ptr<distributed::ProcessGroup> group_;
};

// A metadata entry written by later versions, or `otherwise` for older checkpoints.
int64_t metadata_int_or(const CheckpointContents& contents, const std::string& key, int64_t otherwise) {
  const auto found = contents.metadata.find(key);
  return found == contents.metadata.end() ? otherwise : std::stoll(found->second);
}

torch::Tensor bytes_tensor(const std::string& bytes) {
  torch::Tensor out = torch::empty({int64_t(bytes.size())}, torch::kUInt8);
  std::memcpy(out.data_ptr(), bytes.data(), bytes.size());
  return out;
}

std::string tensor_bytes(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.contiguous();
  return std::string(static_cast<const char*>(t.data_ptr()), size_t(t.numel()));
}

// The default generator of a device (the samplers' randperm draws from the CPU one), as torch.get_rng_state.
torch::Tensor generator_state(torch::DeviceType device) {
  at::Generator generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(torch::DeviceType device, const torch::Tensor& state) {
  at::Generator generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// Data parallelism keeps the ranks' parameters bit-identical (the same averaged gradients, the same updates): after
// the last step each rank hashes its own and the hashes are compared, so that a rank that computed otherwise (another
// build, a non-deterministic kernel, a skipped collective) is named instead of being averaged away unseen. Buffers
// are left out: a head's batch norm that is not synchronised keeps statistics of its own rank's batches.
void check_ranks_hold_the_same_parameters(distributed::ProcessGroup& group, const std::vector<torch::Tensor>& parameters) {
  Sha256 hash;
  for (const auto& parameter : parameters) {
    const torch::Tensor host = parameter.detach().to(torch::kCPU).contiguous();
    hash.update(host.data_ptr(), host.nbytes());
  }
  const std::string mine = hash.hex_digest();
  const std::vector<std::string> hashes = group.all_gather_bytes(mine, "the ranks' parameter hashes");
  std::vector<std::string> differing;
  for (size_t r = 1; r < hashes.size(); ++r) {
    if (hashes[r] != hashes[0]) differing.push_back(std::to_string(r));
  }
  MUST_CHECK(differing.empty(), "after the last step, rank(s) ", join(differing, ", "),
             " hold other parameters than rank 0 (sha256 of every parameter's bytes): the ranks did not compute alike");
  spdlog::info("the {} ranks hold bit-identical parameters (sha256 {})", hashes.size(), mine);
}

}  // namespace

Trainer::Trainer(TrainModule module, std::unique_ptr<torch::optim::Optimizer> optimizer,
                 std::unique_ptr<data::Loader> loader, TrainerOptions options)
    : module_(std::move(module)),
      optimizer_(std::move(optimizer)),
      loader_(std::move(loader)),
      options_(options),
      precision_(effective_precision(options.precision, options.device)),
      scaler_(precision_ == Precision::kFloat16, options.loss_scaler),
      transfer_(options.device) {
  MUST_CHECK(options_.max_iterations >= 1, "a run needs at least one iteration, got ", options_.max_iterations);
  state_.max_iterations = options_.max_iterations;
  if (precision_ != options_.precision) {
    spdlog::info("precision {} applies on CUDA only: the steps on {} run in fp32", precision_name(options_.precision),
                 options_.device.str());
  }
}

int64_t Trainer::world_size() const { return options_.group ? options_.group->world_size() : 1; }

void Trainer::register_hooks(std::vector<std::shared_ptr<HookBase>> hooks) {
  for (auto& hook : hooks) hooks_.push_back(std::move(hook));
}

void Trainer::train() {
  module_->train();
  spdlog::info("training from iteration {} to {}", state_.iteration, state_.max_iterations);
  if (options_.group && options_.group->world_size() > 1 && !reducer_) {
    // Rank 0's weights and buffers everywhere (a fresh run's random initialisation differs per rank).
    std::vector<torch::Tensor> state = module_->parameters();
    for (const auto& buffer : module_->buffers()) state.push_back(buffer);
    distributed::broadcast_from_root(*options_.group, state, "the module's parameters and buffers");
    // Every rank resumed the same checkpoint (they share the output folder) or none: otherwise their step counts,
    // and so their collectives, would differ.
    const auto iterations =
        options_.group->all_gather(torch::tensor({state_.iteration}), "the iteration each rank starts from");
    for (size_t r = 0; r < iterations.size(); ++r) {
      MUST_CHECK(iterations[r].item<int64_t>() == state_.iteration, "rank ", r, " starts from iteration ",
                 iterations[r].item<int64_t>(), ", this rank (", options_.group->rank(), ") from ", state_.iteration,
                 ": the ranks must share the output folder and resume the same checkpoint");
    }
    reducer_ = std::make_unique<distributed::GradientReducer>(*options_.group, module_->parameters(), options_.buckets);
    spdlog::info("data parallel over {} ranks: gradients averaged in {} buckets", options_.group->world_size(),
                 reducer_->bucket_count());
    if (options_.sync_batch_norm) {
      const auto ranks = std::make_shared<ProcessGroupSum>(options_.group->another("sync_batch_norm"));
      std::vector<std::string> left_out;
      const int64_t layers = module_->model->synchronize_batch_norms(ranks, &left_out);
      module_->put_every_head_in_backward(true);
      spdlog::info("synchronised batch norm: {} layer(s) normalise over the {} ranks' batch{}", layers,
                   options_.group->world_size(),
                   left_out.empty() ? "" : "; per rank still: the " + join(left_out, ", ") + " head(s)");
    }
  }
  for (auto& hook : hooks_) hook->before_train(*this);
  while (state_.iteration < state_.max_iterations) {
    for (auto& hook : hooks_) hook->before_step(*this);
    run_step();
    const int64_t period = options_.checkpoint_period;
    if (reducer_ && period > 0 && state_.iteration % period == 0) gather_generator_states();
    for (auto& hook : hooks_) hook->after_step(*this);
  }
  if (reducer_) {
    gather_generator_states();  // for the final checkpoint
    check_ranks_hold_the_same_parameters(*options_.group, module_->parameters());
  }
  for (auto& hook : hooks_) hook->after_train(*this);
}

// A checkpoint of as many ranks holds each rank's generators: this rank takes its own. On another number of ranks
// every rank keeps rank 0's, set by restore() (its draws differ from the written run's then, as its batches do).
void Trainer::restore_rank_generators(const CheckpointContents& contents) {
  if (!options_.group || metadata_int_or(contents, "world_size", 1) != world_size()) return;
  const std::string rank = std::to_string(options_.group->rank());
  const torch::Tensor cpu = find(contents, "rng/cpu/rank" + rank);
  if (cpu.defined()) set_generator_state(torch::kCPU, cpu);
  const torch::Tensor cuda = find(contents, "rng/cuda/rank" + rank);
  if (cuda.defined() && torch::cuda::is_available()) set_generator_state(torch::kCUDA, cuda);
}

void Trainer::gather_generator_states() {
  rank_cpu_generators_ = options_.group->all_gather_bytes(tensor_bytes(generator_state(torch::kCPU)),
                                                          "the ranks' random generator states");
  if (torch::cuda::is_available()) {
    rank_cuda_generators_ = options_.group->all_gather_bytes(tensor_bytes(generator_state(torch::kCUDA)),
                                                             "the ranks' CUDA random generator states");
  }
}

std::optional<data::Batch> Trainer::next_batch() {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!epoch_started_) {
      loader_->start_epoch(loader_epoch_, loader_batch_in_epoch_);
      epoch_started_ = true;
    }
    if (auto batch = loader_->next()) {
      ++loader_batch_in_epoch_;
      return batch;
    }
    ++loader_epoch_;  // the epoch is over: the next one starts
    loader_batch_in_epoch_ = 0;
    epoch_started_ = false;
  }
  return std::nullopt;
}

void Trainer::stage_next_batch() {
  std::optional<data::Batch> batch = next_batch();
  MUST_CHECK(batch.has_value(), "the training data yields no batch (is the dataset empty?)");
  StagedBatch& staged = staged_.emplace();
  staged.on_device = transfer_.start(batch->images, batch->targets);
  staged.epoch = loader_epoch_;
  staged.batch_in_epoch = loader_batch_in_epoch_;
}

Trainer::StagedBatch Trainer::take_batch() {
  if (!staged_) stage_next_batch();
  StagedBatch taken = std::move(*staged_);
  staged_.reset();
  transfer_.ready(taken.on_device);
  return taken;
}

void Trainer::run_step() {
  const auto start = Clock::now();
  const StagedBatch batch = take_batch();
  state_.epoch = batch.epoch;
  state_.batch_in_epoch = batch.batch_in_epoch;
  state_.data_seconds = seconds_since(start);
  const int64_t step = state_.iteration + 1;

  const StepLosses losses = compute_losses(batch.on_device, step);
  const bool loss_finite = std::isfinite(state_.losses.at("loss/total"));
  // An asynchronous copy (CUDA): the next step's batch now, after the losses' read-back has caught the host up with
  // the device and before backward's kernels are queued, so that its copy runs under them. A synchronous one (the
  // CPU) waits until the next step needs it: taken earlier, it would only wait for the loader sooner.
  if (transfer_.asynchronous() && step < state_.max_iterations) stage_next_batch();
  // Data parallel: the values logged are each term's mean over the ranks that have it (with equal batches, the
  // loss of the whole batch the ranks share).
  if (reducer_) state_.losses = distributed::mean_over_ranks(*options_.group, state_.losses, "the step's loss values");
  const StepFault fault = backward_and_check(losses, loss_finite);
  finish_step(outcome_of(fault), fault, step);
  state_.images = int64_t(batch.on_device.images.image_sizes.size());
  state_.iteration = step;
  state_.step_seconds = seconds_since(start);
}

StepLosses Trainer::compute_losses(const structures::DeviceTransfer::InFlight& batch, int64_t step) {
  // Gradients set to none rather than zeroed (torch's set_to_none): backward then writes them instead of adding.
  for (auto& parameter : module_->parameters()) parameter.mutable_grad().reset();
  StepLosses losses;
  {
    AutocastScope autocast(precision_);
    losses = module_->forward(batch.images, batch.targets);
  }
  if (step == options_.inject_nan_at) losses.total = losses.total * std::numeric_limits<float>::quiet_NaN();
  state_.losses.clear();
  for (const auto& [key, value] : losses.terms) state_.losses[key] = value.item<double>();
  state_.losses["loss/total"] = losses.total.item<double>();
  return losses;
}

Trainer::StepFault Trainer::backward_and_check(const StepLosses& losses, bool loss_finite) {
  StepFault fault = loss_finite ? StepFault::kNone : StepFault::kLoss;
  // Data parallel: backward runs on every rank whatever its loss, so that every rank makes the same collectives;
  // the reducer says whether any rank's loss was not finite.
  if (loss_finite || reducer_) {
    if (reducer_) reducer_->prepare();
    // A rank whose batch labels no task at all has a constant loss: no backward, but it still takes part in the
    // gradient exchange (with zeros).
    if (losses.total.requires_grad() || !reducer_) scaler_.scale_loss(losses.total).backward();
    if (reducer_) {
      const distributed::ReducedStep reduced = reducer_->finish(loss_finite);
      state_.communication_seconds = reduced.communication_seconds;
      if (loss_finite && reduced.any_rank_non_finite) fault = StepFault::kLossOnAnotherRank;
    }
  }
  if (fault != StepFault::kNone) return fault;
  std::vector<torch::Tensor> parameters;
  for (const auto& p : module_->parameters()) {
    if (p.grad().defined()) parameters.push_back(p);
  }
  scaler_.unscale(parameters);
  // The global norm is computed either way (logged; a non-finite one stops or skips the step).
  const double max_norm = options_.clip_grad_norm > 0 ? options_.clip_grad_norm : std::numeric_limits<double>::infinity();
  state_.grad_norm = parameters.empty() ? 0.0 : torch::nn::utils::clip_grad_norm_(parameters, max_norm);
  // With loss scaling, Inf/NaN gradients mean the scale is too high (they come now and then while it finds its
  // level): the scaler backs off and the step is skipped, not counted against the model.
  const bool norm_finite = std::isfinite(state_.grad_norm);
  if (!scaler_.update(norm_finite) && scaler_.enabled()) return StepFault::kLossScaleOverflow;
  return norm_finite ? StepFault::kNone : StepFault::kGradientNorm;
}

Trainer::StepOutcome Trainer::outcome_of(StepFault fault) const {
  if (fault == StepFault::kNone) return StepOutcome::kApplied;
  if (fault == StepFault::kLossScaleOverflow) return StepOutcome::kSkipped;
  const bool stop = options_.non_finite == NonFinitePolicy::kStop || state_.skipped_in_a_row + 1 > options_.max_skips_in_a_row;
  return stop ? StepOutcome::kStopped : StepOutcome::kSkipped;
}

void Trainer::finish_step(StepOutcome outcome, StepFault fault, int64_t step) {
  if (outcome == StepOutcome::kApplied) {
    optimizer_->step();
    state_.skipped_in_a_row = 0;
    return;
  }
  for (auto& parameter : module_->parameters()) parameter.mutable_grad().reset();
  if (fault == StepFault::kLossScaleOverflow) {
    ++state_.scaler_skipped;
    spdlog::debug("step {}: gradients overflow; loss scale now {}; step skipped", step, scaler_.scale());
    return;
  }
  std::vector<std::string> terms;
  for (const auto& [key, value] : state_.losses) terms.push_back(key + " = " + std::to_string(value));
  const char* kind = fault == StepFault::kLoss ? "loss" : fault == StepFault::kLossOnAnotherRank ? "loss on another rank"
                                                                                                  : "gradient norm";
  const std::string what = "step " + std::to_string(step) + ": non-finite " + kind + " (" + join(terms) + ")";
  if (outcome == StepOutcome::kStopped) {
    MUST_THROW(Error, what, options_.non_finite == NonFinitePolicy::kSkip ? "; too many in a row" : "",
               "; the last good checkpoint is ",
               state_.last_checkpoint.empty() ? std::string("none (none was written yet)") : state_.last_checkpoint);
  }
  ++state_.skipped, ++state_.skipped_in_a_row;
  spdlog::warn("{}: batch skipped ({} in a row, {} in all)", what, state_.skipped_in_a_row, state_.skipped);
}

CheckpointContents Trainer::checkpoint(std::map<std::string, std::string> metadata) const {
  CheckpointContents contents;
  for (const auto& [name, tensor] : models::module_state_dict(*module_)) contents.tensors.emplace_back("module/" + name, tensor);
  std::ostringstream optimizer_bytes;
  torch::serialize::OutputArchive archive;
  optimizer_->save(archive);
  archive.save_to(optimizer_bytes);
  contents.tensors.emplace_back("optimizer", bytes_tensor(optimizer_bytes.str()));
  contents.tensors.emplace_back("rng/cpu", generator_state(torch::kCPU));
  if (torch::cuda::is_available()) contents.tensors.emplace_back("rng/cuda", generator_state(torch::kCUDA));
  for (size_t r = 0; r < rank_cpu_generators_.size(); ++r) {
    contents.tensors.emplace_back("rng/cpu/rank" + std::to_string(r), bytes_tensor(rank_cpu_generators_[r]));
  }
  for (size_t r = 0; r < rank_cuda_generators_.size(); ++r) {
    contents.tensors.emplace_back("rng/cuda/rank" + std::to_string(r), bytes_tensor(rank_cuda_generators_[r]));
  }
  metadata["format"] = kFormat;
  metadata["iteration"] = std::to_string(state_.iteration);
  metadata["max_iterations"] = std::to_string(state_.max_iterations);
  metadata["epoch"] = std::to_string(state_.epoch);
  metadata["batch_in_epoch"] = std::to_string(state_.batch_in_epoch);
  metadata["world_size"] = std::to_string(world_size());
  metadata["batch_size"] = std::to_string(loader_->batch_size());
  metadata["skipped"] = std::to_string(state_.skipped);
  metadata["loss_scale"] = fmt::format("{}", scaler_.scale());  // shortest form that reads back exactly
  metadata["loss_scale_good_steps"] = std::to_string(scaler_.good_steps());
  metadata["scaler_skipped"] = std::to_string(state_.scaler_skipped);
  contents.metadata = std::move(metadata);
  for (const auto& hook : hooks_) hook->save_state(contents);
  return contents;
}

void Trainer::restore(const CheckpointContents& contents) {
  const auto format = contents.metadata.find("format");
  MUST_CHECK(format != contents.metadata.end() && format->second == kFormat, "not a training checkpoint (format ",
             format == contents.metadata.end() ? std::string("missing") : format->second, ")");
  models::StateDict module_state;
  for (const auto& [key, tensor] : contents.tensors) {
    if (key.rfind("module/", 0) == 0) module_state.emplace_back(key.substr(7), tensor);
  }
  models::ImportOptions strict;
  strict.prefix = "";
  strict.strict = true;
  models::load_state_dict(*module_, module_state, strict, "checkpoint");
  const torch::Tensor optimizer_bytes = find(contents, "optimizer");
  MUST_CHECK(optimizer_bytes.defined(), "the checkpoint has no optimizer state");
  std::istringstream in(tensor_bytes(optimizer_bytes));
  torch::serialize::InputArchive archive;
  archive.load_from(in);
  optimizer_->load(archive);
  const torch::Tensor rng = find(contents, "rng/cpu");
  MUST_CHECK(rng.defined(), "the checkpoint has no RNG state");
  set_generator_state(torch::kCPU, rng);
  const torch::Tensor cuda_rng = find(contents, "rng/cuda");
  if (cuda_rng.defined() && torch::cuda::is_available()) set_generator_state(torch::kCUDA, cuda_rng);
  restore_rank_generators(contents);
  state_.iteration = metadata_int(contents, "iteration");
  state_.epoch = metadata_int(contents, "epoch");
  state_.batch_in_epoch = metadata_int(contents, "batch_in_epoch");
  // Another number of ranks or batch size: batch k of each of W ranks of batch B ends at position k * W * B of the
  // epoch's order (ranks take alternate positions), so W' ranks of batch B' continue from batch k * W * B / (W' * B')
  // (rounded down: a few samples may come twice, none is missed). A run counted in epochs recounts its steps in
  // the new layout, so that it still ends after its epochs and its schedule stays where it was. Checkpoints
  // without these entries come from one process with this batch size.
  const int64_t written_world = metadata_int_or(contents, "world_size", 1);
  const int64_t written_batch = metadata_int_or(contents, "batch_size", loader_->batch_size());
  if (written_world != world_size() || written_batch != loader_->batch_size()) {
    const int64_t batch = state_.batch_in_epoch * written_world * written_batch / (world_size() * loader_->batch_size());
    spdlog::info("checkpoint of {} rank(s) x batch {} resumed on {} x {}: epoch {} continues at batch {} (was {})",
                 written_world, written_batch, world_size(), loader_->batch_size(), state_.epoch, batch,
                 state_.batch_in_epoch);
    state_.batch_in_epoch = batch;
    if (options_.epoch_based) {
      state_.iteration = state_.epoch * loader_->batches_per_epoch() + batch;
      spdlog::info("steps recounted for the new layout: {} of {}", state_.iteration, state_.max_iterations);
    }
  }
  state_.skipped = metadata_int(contents, "skipped");
  // Checkpoints from before mixed precision have no scaler state; a run keeps its scale across a resume.
  if (contents.metadata.count("loss_scale") && scaler_.enabled()) {
    scaler_.set_state(std::stod(contents.metadata.at("loss_scale")), metadata_int(contents, "loss_scale_good_steps"));
  }
  if (contents.metadata.count("scaler_skipped")) state_.scaler_skipped = metadata_int(contents, "scaler_skipped");
  loader_epoch_ = state_.epoch;
  loader_batch_in_epoch_ = state_.batch_in_epoch;
  epoch_started_ = false;
  staged_.reset();
  for (auto& hook : hooks_) hook->load_state(contents);
}

}  // namespace must::engine
