// Checkpoints: atomic, complete, and readable without our code.
//
//   <dir>/checkpoint_NNNNNNNN.safetensors   one training state, NNNNNNNN = completed iterations. A safetensors
//       file (u64 header length, JSON header, raw little-endian tensors), so any safetensors reader opens it:
//         module/<name>     the train module's parameters and buffers (module/model.*, module/weighting.*)
//         ema/<name>        the weights' moving average, when the run keeps one
//         optimizer         uint8: LibTorch's serialized optimizer state (momentum / Adam moments)
//         rng/cpu           uint8: the CPU generator's state (samplers draw from it); rng/cuda likewise
//         __metadata__      strings: format "must-checkpoint-1", iteration, epoch, batch_in_epoch, the resolved
//                           config, and whatever else the trainer records (skipped batches, ...)
//   <dir>/last_checkpoint   JSON, newest last: {"checkpoints": [{"file", "iteration", "bytes", "sha256"}, ...]}
//
// A checkpoint is written to a temporary name, fsynced and renamed (core/fs.h); then last_checkpoint is
// rewritten the same way, so it only ever names complete files. Loading takes the newest entry whose size and
// sha256 match and that parses; a damaged one (truncated, altered) is reported with its path and the one
// before it is used. The oldest files beyond `keep` are deleted.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "must/models/state_dict_file.h"

namespace must::engine {

struct CheckpointContents {
  models::StateDict tensors;                    // names as above
  std::map<std::string, std::string> metadata;  // strings, as safetensors holds them
};

class CheckpointStore {
 public:
  explicit CheckpointStore(std::filesystem::path dir, int keep = 3);
  // Writes `contents` as the checkpoint of `iteration` and records it; returns its path.
  std::filesystem::path save(int64_t iteration, const CheckpointContents& contents);
  // The newest whole checkpoint, nullopt when none was recorded. Throws must::Error naming them when every
  // recorded checkpoint is damaged.
  std::optional<CheckpointContents> load_latest() const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct Entry {
    std::string file;
    int64_t iteration = 0;
    int64_t bytes = 0;
    std::string sha256;
  };
  std::vector<Entry> entries() const;  // from last_checkpoint, oldest first

  std::filesystem::path dir_;
  int keep_;
};

}  // namespace must::engine
