// The pseudo-label store's manifest.json (store.h has the store's whole layout), as a typed record:
//
//   {"format": "must-labels-2",
//    "tasks": ["classification", ...],                 the store's tasks, in task order
//    "teachers": [{"task", "kind", "config", "weights", "weights_sha256", "resolved_config", "batch_size", "lr",
//                  "depth"}, ...],                     kind: "native" (config + weights) or "torchscript" (weights:
//                                                      the exported file; resolved_config: the teacher's entry);
//                                                      batch_size and lr: the teacher's training batch (all ranks)
//                                                      and base rate, which MuST's loss weighting needs (0: unknown);
//                                                      depth: what a depth teacher's values are (metric, relative,
//                                                      inverse_relative). kind and depth are absent from stores
//                                                      written before them: native, metric
//    "policy": {...},                                  policy.h
//    "input": {"format", "root", "split", "count", "list_sha256"},
//    "shard_size": 1000,
//    "shards": [{"name", "first", "count", "bytes", "sha256", "idx_sha256"}, ...],   only once the store is finished
//    "failed": [{"index", "source", "reason"}, ...]}                                 likewise
//
// must_pseudolabel writes the plan (everything but shards and failed) first, and the whole manifest when every
// shard is written. Stores of another format version are refused, naming it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "must/core/task.h"
#include "must/labels/policy.h"

namespace must::labels {

// must-labels-1 stores had no hash of each shard's .idx and no teacher batch sizes and rates.
inline constexpr const char* kStoreFormat = "must-labels-2";

struct FailedImage {
  int64_t index = 0;
  std::string source, reason;
};

// One finished shard: the manifest's shard table entry (and, with its failed images, the shard's .done).
struct ShardRecord {
  std::string name;        // "labels-000042"
  int64_t first = 0;       // first input index
  int64_t count = 0;       // images stored (failed ones are not)
  uint64_t bytes = 0;      // of the tar
  std::string sha256;      // of the tar
  std::string idx_sha256;  // of the .idx: member offsets are trusted only under this hash
  std::vector<FailedImage> failed;
};

struct TeacherRecord {
  Task task = Task::kClassification;
  std::string config;           // the teacher's config file, as given
  std::string weights;          // its weights file, as given
  std::string weights_sha256;
  std::string resolved_config;  // its config resolved (YAML), as must_train_teacher wrote it
  int64_t batch_size = 0;       // data.loader.batch_size: a teacher trained on one process
  double lr = 0;                // train.optimizer.lr
  std::string kind = "native";  // native (our architecture: config + weights) or torchscript (weights: the export)
  std::string depth = "metric";  // depth teachers: metric (metres), relative, inverse_relative (up to scale and shift)
};

struct InputRecord {
  std::string format, root, split;  // the dataset reader that listed the inputs
  int64_t count = 0;
  std::string list_sha256;          // store.h's input_list_sha256
};

struct Manifest {
  std::string format = kStoreFormat;
  std::vector<Task> tasks;
  std::vector<TeacherRecord> teachers;
  LabelPolicy policy;
  InputRecord input;
  int64_t shard_size = 0;
  bool finished = false;  // shards and failed are filled in
  std::vector<ShardRecord> shards;
  std::vector<FailedImage> failed;
};

nlohmann::json to_json(const ShardRecord& record);
ShardRecord shard_record_from_json(const nlohmann::json& json, const std::string& source);
nlohmann::json to_json(const Manifest& manifest);
// Throws must::Error naming `source` when the JSON is not a manifest of this format version.
Manifest manifest_from_json(const nlohmann::json& json, const std::string& source);

Manifest read_manifest(const std::filesystem::path& store);  // <store>/manifest.json
void write_manifest(const std::filesystem::path& store, const Manifest& manifest);  // atomically

// What differs between the plans of two manifests (format, tasks, teacher weights, input list, policy, shard
// size), as "the weights for depth (\"ab12...\", now \"9f00...\")"; nullopt when they agree. A store is only ever
// continued under the plan it was started with.
std::optional<std::string> plan_difference(const Manifest& existing, const Manifest& planned);

}  // namespace must::labels
