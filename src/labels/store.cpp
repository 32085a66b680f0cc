#include "must/labels/store.h"

#include <torch/torch.h>

#include <cstdio>
#include <mutex>

#include "must/core/check.h"
#include "must/core/sha256.h"
#include "must/data/decode.h"
#include "must/labels/label_codec.h"

namespace must::labels {
namespace {

namespace fs = std::filesystem;

fs::path shard_file(const fs::path& store, int64_t shard, const char* extension) {
  return store / "shards" / (shard_name(shard) + extension);
}

nlohmann::json failed_json(const std::vector<FailedImage>& failed) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : failed) out.push_back({{"index", f.index}, {"source", f.source}, {"reason", f.reason}});
  return out;
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
  ShardRecord record{shard_name(shard_), first_, count_, file_.size(), file_.sha256_hex(), std::move(failed_)};
  atomic_write_file(shard_file(store_, shard_, ".idx"), io::encode_tar_index(tar_.members()));
  atomic_write_file(shard_file(store_, shard_, ".done"), to_json(record).dump(1) + "\n");
  return record;
}

nlohmann::json to_json(const ShardRecord& r) {
  return {{"name", r.name}, {"first", r.first}, {"count", r.count}, {"bytes", r.bytes}, {"sha256", r.sha256},
          {"failed", failed_json(r.failed)}};
}

ShardRecord shard_record_from_json(const nlohmann::json& json, const std::string& source) {
  try {
    ShardRecord r{json.at("name").get<std::string>(), json.at("first").get<int64_t>(), json.at("count").get<int64_t>(),
                  json.at("bytes").get<uint64_t>(), json.at("sha256").get<std::string>(), {}};
    for (const auto& f : json.value("failed", nlohmann::json::array())) {
      r.failed.push_back({f.at("index").get<int64_t>(), f.at("source").get<std::string>(), f.at("reason").get<std::string>()});
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, source, ": not a shard record (", e.what(), ")");
  }
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
  return record;
}

std::vector<std::string> verify_store(const fs::path& store) {
  const nlohmann::json manifest = read_json(store / "manifest.json");
  std::vector<std::string> problems;
  for (const auto& entry : manifest.at("shards")) {
    const ShardRecord expected = shard_record_from_json(entry, (store / "manifest.json").string());
    const fs::path tar = store / "shards" / (expected.name + ".tar");
    if (!fs::exists(tar)) {
      problems.push_back(expected.name + ": missing");
      continue;
    }
    const uint64_t bytes = fs::file_size(tar);
    const std::string sha = sha256_file(tar);
    if (bytes != expected.bytes) {
      problems.push_back(expected.name + ": " + std::to_string(bytes) + " bytes, the manifest says " + std::to_string(expected.bytes));
    } else if (sha != expected.sha256) {
      problems.push_back(expected.name + ": sha256 mismatch (manifest " + expected.sha256.substr(0, 12) + "..., file " +
                         sha.substr(0, 12) + "...)");
    }
  }
  return problems;
}

// An opened shard: its members by name (from the .idx), after the tar passed its checksum.
struct StoreReader::Shard {
  fs::path tar;
  std::map<std::string, io::TarMember> members;
};

StoreReader::StoreReader(fs::path store) : store_(std::move(store)), mutex_(std::make_unique<std::mutex>()) {
  const fs::path manifest_path = store_ / "manifest.json";
  manifest_ = read_json(manifest_path);
  MUST_CHECK(manifest_.value("format", "") == kStoreFormat, manifest_path.string(), ": not a pseudo-label store (format ",
             manifest_.value("format", "missing"), ", expected ", kStoreFormat, ")");
  for (const auto& name : manifest_.at("tasks")) tasks_.push_back(task_from_name(name.get<std::string>()));
  for (const auto& entry : manifest_.at("shards")) {
    shards_.push_back(shard_record_from_json(entry, manifest_path.string()));
    const fs::path idx = store_ / "shards" / (shards_.back().name + ".idx");
    for (const auto& member : io::decode_tar_index(read_file(idx), idx.string())) {
      const size_t dot = member.name.find('.');
      if (dot == std::string::npos || member.name.compare(dot, std::string::npos, ".json") != 0) continue;
      keys_.push_back(member.name.substr(0, dot));
      shard_of_key_[keys_.back()] = shards_.size() - 1;
    }
  }
  opened_.resize(shards_.size());
}

StoreReader::~StoreReader() = default;

const StoreReader::Shard& StoreReader::open_shard(size_t index) const {
  std::lock_guard<std::mutex> lock(*mutex_);
  if (opened_[index]) return *opened_[index];
  const ShardRecord& expected = shards_[index];
  auto shard = std::make_unique<Shard>();
  shard->tar = store_ / "shards" / (expected.name + ".tar");
  MUST_CHECK(fs::exists(shard->tar), shard->tar.string(), ": missing");
  const uint64_t bytes = fs::file_size(shard->tar);
  MUST_CHECK(bytes == expected.bytes, shard->tar.string(), ": ", bytes, " bytes, the manifest says ", expected.bytes,
             "; refusing a damaged shard (must_pseudolabel reruns redo it)");
  const std::string sha = sha256_file(shard->tar);
  MUST_CHECK(sha == expected.sha256, shard->tar.string(), ": sha256 ", sha.substr(0, 12), "... differs from the manifest's ",
             expected.sha256.substr(0, 12), "...; refusing a damaged shard (must_pseudolabel reruns redo it)");
  const fs::path idx = store_ / "shards" / (expected.name + ".idx");
  for (auto& member : io::decode_tar_index(read_file(idx), idx.string())) shard->members[member.name] = member;
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
  for (Task task : tasks_) {
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
