// Data parallelism's gradient exchange (docs/cluster.md), as PyTorch's DistributedDataParallel Reducer does it: the
// parameters' gradients are averaged over the ranks in flat buckets, each bucket's all-reduce launched from an
// autograd hook as soon as its last gradient is computed, so that communication overlaps the rest of backward.
//
// Buckets: the trainable parameters in reverse registration order (the order backward produces their gradients),
// cut every bucket_bytes (the first one smaller, first_bucket_bytes, so communication starts early), one dtype per
// bucket. Every rank launches the buckets in the same order (index order: a bucket whose gradients are ready waits
// for the ones before it), so the collectives match across ranks whatever each rank's graph left out.
//
// A step: prepare() before backward; backward (the hooks copy gradients into the buckets and launch the complete
// ones); finish() after it: the buckets not launched yet (a head this rank's batch did not use) are launched with
// zeros in place of the missing gradients, all are waited for, and each parameter's .grad takes its averaged
// slice of the bucket. One more small all-reduce counts, per parameter, the ranks that had a gradient: a parameter
// no rank had a gradient for keeps an undefined .grad (the optimizer skips it, as in one process); and the ranks
// whose loss was not finite, so that all ranks skip the step together.
//
// Parameters and buffers start equal on every rank: broadcast_from_root() copies rank 0's.
//
// As in DistributedDataParallel, each rank's loss is normalised over its own batch and the gradients are averaged
// over the ranks: a task labelled in few samples of the global batch weighs by rank, not by sample. Known cost: a
// head that a rank's batch leaves out stalls the bucket holding it (the first ones: heads come first), and every
// later bucket waits for finish(), so that step's communication does not overlap backward.
#pragma once

#include <torch/types.h>

#include <memory>
#include <mutex>
#include <vector>

#include "must/distributed/process_group.h"

namespace must::distributed {

// Every rank's `tensors` become rank 0's (flattened per dtype into one broadcast each).
void broadcast_from_root(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, const std::string& what);

struct GradientReducerOptions {
  int64_t bucket_bytes = 4 << 20;
  int64_t first_bucket_bytes = 1 << 20;
};

struct ReducedStep {
  bool any_rank_non_finite = false;  // some rank's loss was not finite: every rank skips the step
  double communication_seconds = 0;  // time finish() waited for the all-reduces after backward
};

class GradientReducer {
 public:
  GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters, GradientReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void prepare();
  // After backward. `local_loss_finite`: whether this rank's loss was finite.
  ReducedStep finish(bool local_loss_finite);

  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> parameters;  // indices into parameters_
    std::vector<int64_t> offsets;    // each one's first element in `flat`
    size_t ready = 0;
    ProcessGroup::Pending pending;
  };
  void on_gradient(size_t parameter, const torch::Tensor& gradient);
  void launch_in_order();  // under mutex_

  ProcessGroup& group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_, slot_of_;  // per parameter: its bucket and its place there
  std::vector<bool> has_gradient_;           // this step, per parameter
  size_t next_to_launch_ = 0;
  std::mutex mutex_;
};

}  // namespace must::distributed
