#include "must/labels/store.h"

#include <torch/torch.h>

#include <cstdio>
#include <mutex>

#include "must/core/check.h"
#include "must/core/sha256.h"
#include "must/data/decode.h"
#include "must/data/tar_shards.h"
#include "must/labels/label_codec.h"

namespace must::labels {
namespace {

namespace fs = std::filesystem;

fs::path shard_file(const fs::path& store, int64_t shard, const char* extension) {
  return store / "shards" / (shard_name(shard) + extension);
}

nlohmann::json read_json(const fs::path& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, path.string(), ": not valid JSON (", e.what(), ")");
  }
}

}  // namespace

std::string shard_name(int64_t shard) {
  char name[32];
  std::snprintf(name, sizeof(name), "labels-%06lld", static_cast<long long>(shard));
  return name;
}

std::string input_list_sha256(const data::Dataset& input) {
  // Sharded inputs (millions of images) are planned by their shards: one line per shard, not per image.
  if (const auto* sharded = dynamic_cast<const data::ShardedDataset*>(&input)) return sharded->shard_list_sha256();
  Sha256 hash;
  for (int64_t i = 0; i < input.size(); ++i) hash.update(input.source(i) + "\n");
  return hash.hex_digest();
}

std::string key_of(int64_t index) {
  char key[32];
  std::snprintf(key, sizeof(key), "%09lld", static_cast<long long>(index));
  return key;
}

fs::path shard_tar(const fs::path& store, int64_t shard) { return shard_file(store, shard, ".tar"); }

ShardWriter::ShardWriter(const fs::path& store, int64_t shard, int64_t first)
    : store_(store), shard_(shard), first_(first), file_(shard_tar(store, shard), /*hash=*/true), tar_(file_) {}

void ShardWriter::add(const std::string& key, const std::vector<std::pair<std::string, std::string>>& members) {
  for (const auto& [name, bytes] : members) {
    MUST_CHECK(name.rfind(key + ".", 0) == 0, "shard ", shard_name(shard_), ": member '", name, "' is not of key ", key);
    tar_.add(name, bytes);
  }
  ++count_;
}

ShardRecord ShardWriter::commit() {
  tar_.finish();
  file_.commit();
  const std::string index = io::encode_tar_index(tar_.members());
  ShardRecord record{shard_name(shard_), first_,  count_, file_.size(), file_.sha256_hex(), sha256_hex(index),
                     std::move(failed_)};
  atomic_write_file(shard_file(store_, shard_, ".idx"), index);
  atomic_write_file(shard_file(store_, shard_, ".done"), to_json(record).dump(1) + "\n");
  return record;
}

std::optional<ShardRecord> finished_shard(const fs::path& store, int64_t shard, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<ShardRecord> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const fs::path done = shard_file(store, shard, ".done"), tar = shard_tar(store, shard);
  if (!fs::exists(done)) return fail("not written");
  if (!fs::exists(tar)) return fail("its tar is missing");
  if (!fs::exists(shard_file(store, shard, ".idx"))) return fail("its .idx is missing");
  ShardRecord record;
  try {
    record = shard_record_from_json(read_json(done), done.string());
  } catch (const Error& e) {
    return fail(e.what());
  }
  const uint64_t bytes = fs::file_size(tar);
  if (bytes != record.bytes) return fail("tar is " + std::to_string(bytes) + " bytes, .done says " + std::to_string(record.bytes));
  const std::string sha = sha256_file(tar);
  if (sha != record.sha256) return fail("sha256 mismatch (.done " + record.sha256.substr(0, 12) + "..., file " + sha.substr(0, 12) + "...)");
  const std::string idx_sha = sha256_file(shard_file(store, shard, ".idx"));
  if (idx_sha != record.idx_sha256) {
    return fail(".idx sha256 mismatch (.done " + record.idx_sha256.substr(0, 12) + "..., file " + idx_sha.substr(0, 12) + "...)");
  }
  return record;
}

std::vector<std::string> verify_store(const fs::path& store) {
  const Manifest manifest = read_manifest(store);
  MUST_CHECK(manifest.finished, (store / "manifest.json").string(), ": the store is not finished (must_pseudolabel ",
             "has not written every shard yet; rerun it to complete the store)");
  std::vector<std::string> problems;
  for (const ShardRecord& expected : manifest.shards) {
    const fs::path tar = store / "shards" / (expected.name + ".tar"), idx = store / "shards" / (expected.name + ".idx");
    if (!fs::exists(tar) || !fs::exists(idx)) {
      problems.push_back(expected.name + ": " + (fs::exists(tar) ? ".idx" : "tar") + " missing");
      continue;
    }
    const uint64_t bytes = fs::file_size(tar);
    const std::string sha = sha256_file(tar), idx_sha = sha256_file(idx);
    if (bytes != expected.bytes) {
      problems.push_back(expected.name + ": " + std::to_string(bytes) + " bytes, the manifest says " + std::to_string(expected.bytes));
    } else if (sha != expected.sha256) {
      problems.push_back(expected.name + ": sha256 mismatch (manifest " + expected.sha256.substr(0, 12) + "..., file " +
                         sha.substr(0, 12) + "...)");
    } else if (idx_sha != expected.idx_sha256) {
      problems.push_back(expected.name + ": .idx sha256 mismatch (manifest " + expected.idx_sha256.substr(0, 12) +
                         "..., file " + idx_sha.substr(0, 12) + "...)");
    }
  }
  return problems;
}

// An opened shard: its members by name (from the .idx), after the tar passed its checksum.
struct StoreReader::Shard {
  fs::path tar;
  std::map<std::string, io::TarMember> members;
};

namespace {

// The shard's .idx, refused unless it is the one the manifest hashed.
std::vector<io::TarMember> checked_index(const fs::path& store, const ShardRecord& expected) {
  const fs::path idx = store / "shards" / (expected.name + ".idx");
  MUST_CHECK(fs::exists(idx), idx.string(), ": missing");
  const std::string text = read_file(idx);
  const std::string sha = sha256_hex(text);
  MUST_CHECK(sha == expected.idx_sha256, idx.string(), ": sha256 ", sha.substr(0, 12), "... differs from the manifest's ",
             expected.idx_sha256.substr(0, 12), "...; refusing a damaged shard index (must_pseudolabel reruns redo it)");
  return io::decode_tar_index(text, idx.string());
}

}  // namespace

StoreReader::StoreReader(fs::path store)
    : store_(std::move(store)), manifest_(read_manifest(store_)), mutex_(std::make_unique<std::mutex>()) {
  MUST_CHECK(manifest_.finished, (store_ / "manifest.json").string(), ": the store is not finished (must_pseudolabel ",
             "has not written every shard yet; rerun it to complete the store)");
  for (size_t shard = 0; shard < manifest_.shards.size(); ++shard) {
    for (const auto& member : checked_index(store_, manifest_.shards[shard])) {
      const size_t dot = member.name.find('.');
      if (dot == std::string::npos || member.name.compare(dot, std::string::npos, ".json") != 0) continue;
      keys_.push_back(member.name.substr(0, dot));
      shard_of_key_[keys_.back()] = shard;
    }
  }
  opened_.resize(manifest_.shards.size());
}

StoreReader::~StoreReader() = default;

const StoreReader::Shard& StoreReader::open_shard(size_t index) const {
  std::lock_guard<std::mutex> lock(*mutex_);
  if (opened_[index]) return *opened_[index];
  const ShardRecord& expected = manifest_.shards[index];
  auto shard = std::make_unique<Shard>();
  shard->tar = store_ / "shards" / (expected.name + ".tar");
  MUST_CHECK(fs::exists(shard->tar), shard->tar.string(), ": missing");
  const uint64_t bytes = fs::file_size(shard->tar);
  MUST_CHECK(bytes == expected.bytes, shard->tar.string(), ": ", bytes, " bytes, the manifest says ", expected.bytes,
             "; refusing a damaged shard (must_pseudolabel reruns redo it)");
  const std::string sha = sha256_file(shard->tar);
  MUST_CHECK(sha == expected.sha256, shard->tar.string(), ": sha256 ", sha.substr(0, 12), "... differs from the manifest's ",
             expected.sha256.substr(0, 12), "...; refusing a damaged shard (must_pseudolabel reruns redo it)");
  for (auto& member : checked_index(store_, expected)) shard->members[member.name] = member;
  opened_[index] = std::move(shard);
  return *opened_[index];
}

std::string StoreReader::member(const std::string& key, const std::string& suffix) const {
  const auto found = shard_of_key_.find(key);
  MUST_CHECK(found != shard_of_key_.end(), store_.string(), ": no image with key '", key, "'");
  const Shard& shard = open_shard(found->second);
  const auto member = shard.members.find(key + "." + suffix);
  if (member == shard.members.end()) return {};
  return read_file_range(shard.tar, member->second.offset, member->second.size);
}

nlohmann::json StoreReader::record(const std::string& key) const {
  const std::string bytes = member(key, "json");
  try {
    return nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, store_.string(), ": ", key, ".json is not valid JSON (", e.what(), ")");
  }
}

data::Sample StoreReader::get(const std::string& key) const { return get(key, record(key)); }

data::Sample StoreReader::get(const std::string& key, const nlohmann::json& rec) const {
  data::Sample sample;
  sample.source = rec.value("source", key);
  for (Task task : manifest_.tasks) {
    const std::string suffix(task_spec(task).store_suffix);
    const std::string bytes = member(key, suffix);
    MUST_CHECK(!bytes.empty(), store_.string(), ": ", key, " has no ", suffix, " member");
    decode_label(task, bytes, store_.string() + ":" + key + "." + suffix, sample);
  }
  // Empty when images are not packed: the reader of the inputs supplies them.
  sample.encoded = member(key, "jpg");
  if (sample.encoded.empty()) sample.encoded = member(key, "png");
  return sample;
}

}  // namespace must::labels
