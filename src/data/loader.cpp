#include "must/data/loader.h"

#include <ATen/Parallel.h>
#include <omp.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

#include "must/core/check.h"
#include "must/core/random.h"
#include "must/data/decode.h"

namespace must::data {

void use_intra_op_threads(int threads) {
  at::internal::lazy_init_num_threads();  // ATen's own per-thread set-up first, so it does not undo the next line
  omp_set_num_threads(std::max(threads, 1));  // this thread's OpenMP setting only; other threads keep theirs
}

std::vector<int64_t> shard_indices(int64_t dataset_size, bool shuffle, uint64_t seed, int64_t epoch, int64_t rank,
                                   int64_t world_size) {
  MUST_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank ", rank, " outside a world of ", world_size);
  std::vector<int64_t> order(static_cast<size_t>(dataset_size));
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) {  // contiguous blocks, sizes differing by at most one, no padding
    const int64_t base = dataset_size / world_size, extra = dataset_size % world_size;
    const int64_t begin = rank * base + std::min(rank, extra);
    const int64_t end = begin + base + (rank < extra ? 1 : 0);
    return std::vector<int64_t>(order.begin() + begin, order.begin() + end);
  }
  std::mt19937_64 rng(mix_seed(seed ^ mix_seed(uint64_t(epoch))));
  must::shuffle(order, rng);
  return shard_order(std::move(order), rank, world_size);
}

std::vector<int64_t> shard_order(std::vector<int64_t> order, int64_t rank, int64_t world_size) {
  MUST_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "rank ", rank, " outside a world of ", world_size);
  const int64_t size = int64_t(order.size());
  if (size == 0) return {};
  const int64_t padded = (size + world_size - 1) / world_size * world_size;
  for (int64_t i = size; i < padded; ++i) order.push_back(order[size_t(i % size)]);
  std::vector<int64_t> mine;
  for (int64_t i = rank; i < padded; i += world_size) mine.push_back(order[size_t(i)]);
  return mine;
}

Batch collate(std::vector<Sample> samples, const std::vector<int64_t>& indices, const std::vector<Task>& tasks,
              int64_t size_divisible) {
  MUST_CHECK(!samples.empty(), "cannot collate zero samples");
  std::vector<torch::Tensor> images;
  Batch batch;
  for (const auto& sample : samples) {
    MUST_CHECK(sample.image.defined() && sample.image.dim() == 3 && sample.image.size(0) == 3 &&
                   sample.image.scalar_type() == torch::kFloat,
               sample.source, ": collate needs normalised float [3, H, W] images (end the transforms with Normalize)");
    images.push_back(sample.image);
    batch.sources.push_back(sample.source);
    batch.geometry.push_back(sample.geometry.started()
                                 ? sample.geometry
                                 : Geometry::of_size({sample.image.size(1), sample.image.size(2)}));
  }
  batch.indices = indices;
  batch.images = structures::ImageList::batch(images, size_divisible);
  const int64_t b = int64_t(samples.size());
  const int64_t height = batch.images.tensors.size(2), width = batch.images.tensors.size(3);
  for (Task task : tasks) {
    const TaskSpec& spec = task_spec(task);
    structures::TaskTargets targets;
    targets.present = torch::zeros({b}, torch::kBool);
    const Sample* first = nullptr;
    for (int64_t i = 0; i < b; ++i) {
      if (samples[size_t(i)].has(task)) {
        targets.present[i] = true;
        if (!first) first = &samples[size_t(i)];
      }
    }
    if (!first) continue;  // nobody in the batch has this label: no entry, hence no loss term
    if (spec.target == TargetKind::kBoxes) {
      for (auto& sample : samples) {
        structures::Instances instances;
        if (sample.instances) {
          instances = *sample.instances;
        } else {
          instances.boxes = torch::zeros({0, 4});
          instances.labels = torch::zeros({0}, torch::kLong);
        }
        targets.instances.push_back(std::move(instances));
      }
    } else {
      const torch::Tensor& like = first->labels.at(task);
      std::vector<int64_t> shape = {b};
      if (spec.target == TargetKind::kClassVector) {
        shape.push_back(like.size(0));
      } else {
        for (int64_t d = 0; d + 2 < like.dim(); ++d) shape.push_back(like.size(d));
        shape.insert(shape.end(), {height, width});
      }
      targets.values = torch::full(shape, spec.ignore_value, like.options());
      for (int64_t i = 0; i < b; ++i) {
        const Sample& sample = samples[size_t(i)];
        if (!sample.has(task)) continue;
        const torch::Tensor& label = sample.labels.at(task);
        if (spec.target == TargetKind::kClassVector) {
          MUST_CHECK(label.sizes() == like.sizes(), sample.source, ": ", label.size(0), " classes, others have ", like.size(0));
          targets.values[i].copy_(label);
          continue;
        }
        const auto [h, w] = batch.images.image_sizes[size_t(i)];
        MUST_CHECK(label.size(-2) == h && label.size(-1) == w, sample.source, ": ", task_name(task), " label is ",
                   label.size(-1), "x", label.size(-2), " but the image is ", w, "x", h);
        targets.values[i].narrow(-2, 0, h).narrow(-1, 0, w).copy_(label);
      }
    }
    batch.targets.tasks[task] = std::move(targets);
  }
  return batch;
}

struct Loader::Produced {
  std::optional<Batch> batch;        // nullopt: every sample of the batch was skipped
  std::vector<std::pair<std::string, std::string>> skipped;  // its images that did not decode, and why
};

// One epoch of this rank: its dataset indices in order, and the same per batch.
struct Loader::EpochPlan {
  int64_t epoch = 0;
  std::vector<int64_t> order;
  std::vector<std::vector<int64_t>> batches;
};

struct Loader::State {
  std::mutex mutex;
  std::condition_variable changed;
  // The epoch being delivered and, in training, the next one: once every batch of an epoch is claimed the
  // workers go on into the next (within the same prefetch window), so an epoch's first steps do not wait for
  // the workers to start over.
  std::map<int64_t, std::shared_ptr<const EpochPlan>> plans;
  Position next_to_claim{0, 0}, next_to_deliver{0, 0};
  size_t in_flight = 0;  // batches claimed and not yet delivered
  std::map<Position, Produced> ready;
  std::exception_ptr error;
  Position error_at{0, 0};  // the batch whose making failed: the batches before it are still delivered
  bool stopping = false;
  LoaderStats stats;
  std::vector<std::thread> workers;
  bool started = false;  // start_epoch() was called
};

namespace {

// Called under the lock, inside a catch block: the earliest failing batch's error is the one delivered.
template <class State, class Position>
void record_error(State& s, const Position& at) {
  if (!s.error || at < s.error_at) {
    s.error = std::current_exception();
    s.error_at = at;
  }
  s.changed.notify_all();
}

}  // namespace

Loader::Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), options_(options), state_(std::make_unique<State>()) {
  MUST_CHECK(options_.batch_size >= 1, "batch_size must be positive");
  MUST_CHECK(options_.workers >= 0, "workers must be 0 (batches made on the calling thread) or more");
  MUST_CHECK(options_.prefetch_batches >= 1, "prefetch_batches must be positive");
}

Loader::~Loader() { stop_workers(); }

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->changed.notify_all();
  for (auto& worker : state_->workers) worker.join();
  state_->workers.clear();
}

std::vector<int64_t> Loader::epoch_indices(int64_t epoch) const {
  if (options_.shuffle && options_.sampler) {
    return shard_order(options_.sampler->order(options_.seed, epoch), options_.rank, options_.world_size);
  }
  return shard_indices(dataset_->size(), options_.shuffle, options_.seed, epoch, options_.rank, options_.world_size);
}

std::shared_ptr<const Loader::EpochPlan> Loader::plan_epoch(int64_t epoch) const {
  auto plan = std::make_shared<EpochPlan>();
  plan->epoch = epoch;
  plan->order = epoch_indices(epoch);
  const std::vector<int64_t>& indices = plan->order;
  for (size_t start = 0; start < indices.size(); start += size_t(options_.batch_size)) {
    const size_t end = std::min(indices.size(), start + size_t(options_.batch_size));
    if (options_.drop_last && end - start < size_t(options_.batch_size)) break;
    plan->batches.emplace_back(indices.begin() + long(start), indices.begin() + long(end));
  }
  return plan;
}

int64_t Loader::batches_per_epoch() const {
  int64_t n = 0;
  if (options_.shuffle && options_.sampler) {
    const int64_t length = options_.sampler->epoch_length();
    n = length == 0 ? 0 : (length + options_.world_size - 1) / options_.world_size;
  } else {
    n = int64_t(shard_indices(dataset_->size(), options_.shuffle, options_.seed, 0, options_.rank,
                              options_.world_size).size());
  }
  return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  MUST_CHECK(first_batch >= 0, "first batch ", first_batch, " is negative");
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    const bool delivered_all =
        s.started && s.next_to_deliver.second >= s.plans.at(s.next_to_deliver.first)->batches.size();
    if (delivered_all && !s.workers.empty() && !s.error && epoch == s.next_to_deliver.first + 1 && first_batch == 0) {
      // The epoch that follows the one just delivered: the workers are already on it.
      s.plans.erase(s.next_to_deliver.first);
      s.next_to_deliver = {epoch, 0};
      if (!s.plans.count(epoch)) s.plans[epoch] = plan_epoch(epoch);
      s.next_to_claim = std::max(s.next_to_claim, s.next_to_deliver);
      s.stats = {};
      s.changed.notify_all();
      return;
    }
  }
  stop_workers();
  auto plan = plan_epoch(epoch);
  // Batches are a function of (seed, epoch, indices) alone, so a resumed epoch skips the ones it had without
  // reading them.
  const Position first{epoch, std::min(size_t(first_batch), plan->batches.size())};
  s.plans = {{epoch, std::move(plan)}};
  s.next_to_claim = s.next_to_deliver = first;
  s.in_flight = 0;
  s.ready.clear();
  s.error = nullptr;
  s.stopping = false;
  s.stats = {};
  s.started = true;
  for (int i = 0; i < options_.workers; ++i) s.workers.emplace_back([this] { work(); });
}

Loader::Produced Loader::produce(const EpochPlan& plan, size_t claimed) const {
  std::vector<Sample> samples, originals;
  std::vector<int64_t> kept;
  Produced produced;
  const size_t first = claimed * size_t(options_.batch_size);  // the batch's place in the rank's order
  // Training replaces an image that does not decode by the next one of the order that does (see the header).
  const size_t attempts = options_.shuffle ? plan.order.size() : 1;
  for (size_t j = 0; j < plan.batches[claimed].size(); ++j) {
    bool taken = false;
    for (size_t attempt = 0; attempt < attempts && !taken; ++attempt) {
      const int64_t index = plan.order[(first + j + attempt) % plan.order.size()];
      std::mt19937_64 rng(mix_seed(options_.seed ^ mix_seed(uint64_t(plan.epoch) ^ mix_seed(uint64_t(index)))));
      Sample sample, original;
      try {
        sample = dataset_->get(index);  // may read an image header
        if (options_.keep_original_labels) {  // tensors are shared: transforms replace labels, never write them
          original.source = sample.source;
          original.labels = sample.labels;
          original.instances = sample.instances;
        }
        transform_->apply(sample, rng);
      } catch (const DecodeError& e) {
        if (options_.stop_on_bad_image) throw;
        spdlog::warn("{} an image that does not decode: {}", options_.shuffle ? "replacing" : "skipping", e.what());
        produced.skipped.emplace_back(e.source(), e.what());
        continue;
      }
      samples.push_back(std::move(sample));
      if (options_.keep_original_labels) originals.push_back(std::move(original));
      kept.push_back(index);
      taken = true;
    }
    MUST_CHECK(taken || !options_.shuffle, "no image of rank ", options_.rank, "'s part of epoch ", plan.epoch,
               " decodes (", plan.order.size(), " tried)");
  }
  if (!samples.empty()) {
    produced.batch = collate(std::move(samples), kept, dataset_->info().tasks, options_.size_divisible);
    produced.batch->original_labels = std::move(originals);
    if (options_.pin_memory) {
      produced.batch->images = produced.batch->images.pinned();
      produced.batch->targets = produced.batch->targets.pinned();
    }
  }
  return produced;
}

void Loader::work() {
  // Each worker's tensor work on its own thread alone, as torch's DataLoader workers do (torch.set_num_threads(1)
  // in each): otherwise each worker's first ATen parallel loop starts an OpenMP team of its own, and those teams'
  // spinning threads take the cores from the training step.
  use_intra_op_threads(1);
  if (options_.idle_priority) {
    // This thread only: on Linux, pid 0 names the calling thread. Failure leaves it at normal priority.
    sched_param param{};
    sched_setscheduler(0, SCHED_IDLE, &param);
  }
  State& s = *state_;
  // Training goes on into the next epoch; inference makes one pass. An epoch without batches ends either.
  const auto claimable = [&] {
    const EpochPlan& plan = *s.plans.at(s.next_to_claim.first);
    const bool more = s.next_to_claim.second < plan.batches.size() || (options_.shuffle && !plan.batches.empty());
    return more && s.in_flight < size_t(options_.prefetch_batches);
  };
  for (;;) {
    Position claimed;
    std::shared_ptr<const EpochPlan> plan;
    {
      std::unique_lock<std::mutex> lock(s.mutex);
      s.changed.wait(lock, [&] { return s.stopping || s.error || claimable(); });
      if (s.stopping || s.error) return;
      if (s.next_to_claim.second >= s.plans.at(s.next_to_claim.first)->batches.size()) {
        // The next epoch's order (a shuffle, or the sampler's: milliseconds) under the lock, which next() only
        // waits for while its own batch is not ready anyway. Its failure is that epoch's first batch's.
        const Position next{s.next_to_claim.first + 1, 0};
        try {
          if (!s.plans.count(next.first)) s.plans[next.first] = plan_epoch(next.first);
        } catch (...) {
          record_error(s, next);
          return;
        }
        s.next_to_claim = next;
        if (!claimable()) continue;
      }
      claimed = s.next_to_claim;
      ++s.next_to_claim.second;
      ++s.in_flight;
      plan = s.plans.at(claimed.first);
    }
    Produced produced;
    try {
      produced = produce(*plan, claimed.second);
    } catch (...) {
      std::lock_guard<std::mutex> lock(s.mutex);
      record_error(s, claimed);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.ready[claimed] = std::move(produced);
    }
    s.changed.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  MUST_CHECK(s.started, "call start_epoch() before next()");
  for (;;) {
    const Position position = s.next_to_deliver;
    const EpochPlan& plan = *s.plans.at(position.first);
    if (position.second >= plan.batches.size()) return std::nullopt;
    if (options_.workers == 0) {  // this thread makes the batch (errors propagate as they are)
      s.ready[position] = produce(plan, position.second);
      ++s.in_flight;
    }
    s.changed.wait(lock, [&] { return s.ready.count(position) || (s.error && s.error_at == position); });
    if (!s.ready.count(position)) std::rethrow_exception(s.error);
    // Counted as delivered, in batch order, so stats do not depend on which worker finished first.
    Produced produced = std::move(s.ready.at(position));
    s.ready.erase(position);
    ++s.next_to_deliver.second;
    --s.in_flight;
    s.stats.skipped += int64_t(produced.skipped.size());
    for (const auto& [source, reason] : produced.skipped) {
      s.stats.skipped_sources.push_back(source);
      s.stats.skipped_reasons.push_back(reason);
    }
    std::optional<Batch> batch = std::move(produced.batch);
    s.changed.notify_all();
    if (batch) {
      s.stats.samples += int64_t(batch->indices.size());
      return batch;
    }
  }
}

LoaderStats Loader::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stats;
}

}  // namespace must::data
