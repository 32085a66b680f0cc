// must_pseudolabel's work (MuST step two): every teacher over an image set, each image decoded once, into the
// pseudo-label store (labels/store.h), by one process or many.
//
// The input list (`input:` any dataset reader; its labels are not used) is cut into input shards of
// store.shard_size images. Ranks claim shards from a shared counter (distributed::WorkQueue), so a faster rank
// takes more; a shard already finished (labels/store.h's finished_shard) is skipped, any other is (re)written.
// When every rank is done, rank 0 gathers the shards' .done records into manifest.json. The manifest is written
// first with the plan (labels/manifest.h: teachers and their weights' sha256, policy, input list sha256, shard
// size): a rerun against other teachers, weights, policy or inputs is refused, naming what differs.
//
// The label policy is labels/policy.h's. Boxes are kept in the original image's pixels; dense maps are mapped back
// onto the original image's pixels, then (store.dense_size) resized. flip: the mean with the horizontally flipped
// image's prediction (dense tasks and classification).
//
// store.pack_images adds each image itself to the store (the input file's bytes), so that the student needs the
// store alone.
//
// Work: the loader's threads decode; inference.lanes threads run the teachers side by side (a teacher on one
// batch at a time, the intra-op threads shared among the lanes), each encoding its own labels; this thread writes
// finished batches in order.
#pragma once

#include <torch/types.h>

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "must/config/config.h"
#include "must/distributed/work_queue.h"

namespace must::pipelines {

// must_pseudolabel's config schema: teachers, input, data (augment, loader), policy, inference, store.
std::string_view pseudolabel_schema();

struct PseudolabelRun {
  std::filesystem::path store;
  torch::Device device = torch::kCPU;
  int rank = 0;
  distributed::WorkQueue* shards = nullptr;  // hands out the input shards among the ranks; null: this process alone
  std::function<void()> plan_checked;  // called once rank 0 has checked (or written) the plan: the others wait on it
  // Each shard this rank writes, once written (metrics.jsonl): "pseudolabel/images", "pseudolabel/seconds",
  // "pseudolabel/images_per_s", "pseudolabel/<task>_seconds" (each teacher's time) and "rank".
  std::function<void(int64_t shard, const std::map<std::string, double>& values)> metrics;
};

struct PseudolabelSummary {
  int64_t shards = 0;       // in the store
  int64_t written = 0;      // by this rank in this run (redone ones included)
  int64_t redone = 0;       // of those, shards found damaged or unfinished from an earlier run
  int64_t kept = 0;         // found finished and skipped by this rank
  int64_t images = 0;       // labelled by this rank in this run
  int64_t failed = 0;       // images that did not decode, by this rank in this run
  double seconds = 0;
};

// Throws must::ConfigError for a bad config or a store planned with other teachers / inputs / policy, and
// must::Error for a failed run (nothing finished is lost: a rerun continues).
PseudolabelSummary pseudolabel(const config::Config& config, const PseudolabelRun& run);

}  // namespace must::pipelines
