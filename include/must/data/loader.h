// Batches from a dataset: C++ worker threads read, decode and transform whole batches ahead of the consumer
// (at most prefetch_batches in flight), and hand them over in order.
//
// Order is a pure function of (seed, epoch, rank, world_size): training takes the epoch's order over all ranks
// (a shuffle of the whole dataset with a generator seeded by (seed, epoch), or the order an EpochSampler gives),
// pads it to a multiple of world_size by repeating its start (as PyTorch's DistributedSampler) and gives rank r
// the positions r, r + world_size, ...; inference gives each rank one contiguous, unpadded block. The transforms of each sample draw from a generator seeded by (seed, epoch,
// dataset index), so batches do not depend on the number of workers.
//
// Collate (structures::Targets layouts): images padded to a multiple of size_divisible with each size kept;
// per task, the presence bit of each sample; class vectors stacked; maps padded with the task table's ignore
// value; boxes kept per sample. A task no sample of the batch has gets no entry (so it adds no loss term).
// Each sample's Geometry travels with it.
//
// Bad input: an image that does not decode (DecodeError) is logged with its path and counted in stats() — or
// stops the loader when stop_on_bad_image. In training it is replaced by the next sample of the rank's epoch
// order that decodes, so every batch is full and every rank makes the same number of steps (data parallel
// collectives would otherwise hang); in inference it is skipped (a batch may come out smaller, and one whose
// images all fail is not delivered). Any other error (missing file, malformed annotation) stops the loader, and
// next() rethrows it naming the file and record.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "must/data/dataset.h"
#include "must/data/transforms.h"
#include "must/structures/image_list.h"
#include "must/structures/targets.h"

namespace must::data {

// The order of one training epoch's dataset indices over all ranks, before sharding: a pure function of
// (seed, epoch). Indices may repeat (a source drawn more often than its size).
class EpochSampler {
 public:
  virtual ~EpochSampler() = default;
  virtual std::vector<int64_t> order(uint64_t seed, int64_t epoch) const = 0;
  virtual int64_t epoch_length() const = 0;  // order(...).size() for every epoch
};

struct LoaderOptions {
  int64_t batch_size = 8;
  int workers = 2;  // 0: next() makes each batch on the calling thread (PyTorch's num_workers=0)
  int prefetch_batches = 4;
  // Workers at idle priority (Linux SCHED_IDLE): they run on the core time the step leaves idle and never take a
  // core from its OpenMP threads, whose parallel regions would otherwise wait for the one a worker holds (on
  // 2 cores, the trainer benchmark's loop/bare step rose from 0.86 to 0.95; see core/openmp_spin.h). A worker
  // left without idle time is not starved: the step then waits for data, and its core idles.
  bool idle_priority = true;
  bool shuffle = true;  // training order (shuffled, sharded, padded); false: inference order
  std::shared_ptr<const EpochSampler> sampler;  // training order over all ranks; none: a shuffle of the dataset
  bool drop_last = false;
  uint64_t seed = 0;
  int64_t rank = 0, world_size = 1;
  int64_t size_divisible = 32;
  bool stop_on_bad_image = false;
  bool keep_original_labels = false;  // evaluation: each batch also carries its samples' labels as read
  // Batches in page-locked memory (torch's pin_memory; needs CUDA), pinned by the workers, so that the copy to the
  // GPU is an asynchronous DMA the training thread does not wait for. Training on CUDA sets it.
  bool pin_memory = false;
};

// The calling thread's ATen work (parallel loops, OpenMP-threaded BLAS and oneDNN) runs on `threads` threads from
// now on; other threads keep their setting. For worker threads, which otherwise start as wide as the process.
void use_intra_op_threads(int threads);

// The dataset indices rank `rank` visits in `epoch`, in order.
std::vector<int64_t> shard_indices(int64_t dataset_size, bool shuffle, uint64_t seed, int64_t epoch, int64_t rank,
                                   int64_t world_size);
// Rank `rank`'s part of an epoch's order over all ranks: padded to a multiple of world_size by repeating its
// start, then positions rank, rank + world_size, ...
std::vector<int64_t> shard_order(std::vector<int64_t> order, int64_t rank, int64_t world_size);

struct Batch {
  structures::ImageList images;
  structures::Targets targets;
  std::vector<int64_t> indices;      // dataset indices of the samples
  std::vector<std::string> sources;  // their files
  std::vector<Geometry> geometry;    // how each image's pixels relate to the image as read
  // With keep_original_labels: each sample as the dataset gave it, before any transform, without its image
  // (evaluation scores predictions against these, at the labels' own size).
  std::vector<Sample> original_labels;
};

// Samples (transformed: float [3, H, W] images) -> one batch carrying the targets of `tasks`.
Batch collate(std::vector<Sample> samples, const std::vector<int64_t>& indices, const std::vector<Task>& tasks,
              int64_t size_divisible);

struct LoaderStats {
  int64_t samples = 0;                        // delivered this epoch
  int64_t skipped = 0;                        // images that did not decode (in the batches delivered so far)
  std::vector<std::string> skipped_sources;   // their paths, in data order
  std::vector<std::string> skipped_reasons;   // and why each did not decode
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) an epoch at its batch `first_batch` (a resumed run's position); the workers begin at once.
  // In training the workers go on from the end of an epoch into the next, so start_epoch(e + 1) right after
  // epoch e's last batch finds its first batches made already.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch in order, or nothing at the end of the epoch. Rethrows a worker's error.
  std::optional<Batch> next();
  int64_t batches_per_epoch() const;
  int64_t batch_size() const { return options_.batch_size; }
  LoaderStats stats() const;

 private:
  struct State;
  struct Produced;
  struct EpochPlan;
  using Position = std::pair<int64_t, size_t>;  // (epoch, batch of the epoch)
  std::vector<int64_t> epoch_indices(int64_t epoch) const;  // this rank's, in order
  std::shared_ptr<const EpochPlan> plan_epoch(int64_t epoch) const;
  Produced produce(const EpochPlan& plan, size_t batch) const;  // reads, transforms and collates one batch
  void work();
  void stop_workers();

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Transform> transform_;
  LoaderOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace must::data
