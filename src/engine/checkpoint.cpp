#include "must/engine/checkpoint.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cstdio>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/sha256.h"

namespace must::engine {
namespace {

constexpr const char* kPointer = "last_checkpoint";

std::string checkpoint_name(int64_t iteration) {
  char name[64];
  std::snprintf(name, sizeof(name), "checkpoint_%08lld.safetensors", static_cast<long long>(iteration));
  return name;
}

}  // namespace

CheckpointStore::CheckpointStore(std::filesystem::path dir, int keep) : dir_(std::move(dir)), keep_(keep) {
  MUST_CHECK(keep >= 1, "keep at least one checkpoint, got ", keep);
}

std::vector<CheckpointStore::Entry> CheckpointStore::entries() const {
  const auto pointer = dir_ / kPointer;
  if (!std::filesystem::exists(pointer)) return {};
  std::vector<Entry> out;
  try {
    const nlohmann::json json = nlohmann::json::parse(read_file(pointer));
    for (const auto& e : json.at("checkpoints")) {
      out.push_back({e.at("file").get<std::string>(), e.at("iteration").get<int64_t>(), e.at("bytes").get<int64_t>(),
                     e.at("sha256").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, pointer.string(), ": malformed (", e.what(), ")");
  }
  return out;
}

std::filesystem::path CheckpointStore::save(int64_t iteration, const CheckpointContents& contents) {
  ensure_directory(dir_);
  const std::string name = checkpoint_name(iteration);
  models::write_safetensors(dir_ / name, contents.tensors, contents.metadata);
  const std::string bytes = read_file(dir_ / name);
  std::vector<Entry> kept;
  for (auto& entry : entries()) {
    if (entry.file != name) kept.push_back(std::move(entry));
  }
  kept.push_back({name, iteration, int64_t(bytes.size()), sha256_hex(bytes)});
  std::vector<Entry> removed;
  while (int(kept.size()) > keep_) {
    removed.push_back(kept.front());
    kept.erase(kept.begin());
  }
  nlohmann::ordered_json json;
  json["checkpoints"] = nlohmann::ordered_json::array();
  for (const auto& e : kept) {
    json["checkpoints"].push_back({{"file", e.file}, {"iteration", e.iteration}, {"bytes", e.bytes}, {"sha256", e.sha256}});
  }
  atomic_write_file(dir_ / kPointer, json.dump(2) + "\n");
  for (const auto& e : removed) {  // only once the pointer no longer names them
    std::error_code ignored;
    std::filesystem::remove(dir_ / e.file, ignored);
  }
  return dir_ / name;
}

std::optional<CheckpointContents> CheckpointStore::load_latest() const {
  const std::vector<Entry> recorded = entries();
  if (recorded.empty()) return std::nullopt;
  std::vector<std::string> problems;
  for (auto e = recorded.rbegin(); e != recorded.rend(); ++e) {
    const auto path = dir_ / e->file;
    std::string problem;
    try {
      const std::string bytes = read_file(path);
      if (int64_t(bytes.size()) != e->bytes) {
        problem = "has " + std::to_string(bytes.size()) + " bytes, " + std::to_string(e->bytes) + " were written (truncated?)";
      } else if (sha256_hex(bytes) != e->sha256) {
        problem = "does not match the sha256 recorded when it was written";
      } else {
        CheckpointContents contents;
        contents.tensors = models::read_state_dict_bytes(bytes, path.string(), &contents.metadata);
        if (!problems.empty()) spdlog::warn("resuming from the previous checkpoint, {}", path.string());
        return contents;
      }
    } catch (const std::exception& error) {
      problem = error.what();
    }
    spdlog::warn("checkpoint {} is damaged: {}", path.string(), problem);
    problems.push_back(path.string() + " " + problem);
  }
  MUST_THROW(Error, "no usable checkpoint in ", dir_.string(), ": ", problems.front(),
             problems.size() > 1 ? " (and every older one is damaged too)" : "");
}

}  // namespace must::engine
