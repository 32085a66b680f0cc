#include "must/data/tar_shards.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/sha256.h"
#include "must/io/tar.h"
#include "readers.h"

namespace must::data {
namespace {

namespace fs = std::filesystem;

// One sample's members in its shard.
struct ShardSample {
  io::TarMember image;
  std::optional<io::TarMember> cls;
};
using ShardSamples = std::vector<ShardSample>;

// WebDataset's split of a member name into its key and extension: "a/b/000123.seg.png" -> {"a/b/000123",
// "seg.png"}; the extension in lower case.
std::pair<std::string, std::string> key_and_extension(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t dot = name.find('.', slash == std::string::npos ? 0 : slash + 1);
  if (dot == std::string::npos) return {name, ""};
  std::string extension = name.substr(dot + 1);
  for (char& c : extension) c = char(std::tolower(static_cast<unsigned char>(c)));
  return {name.substr(0, dot), extension};
}

// The shard's member index beside it ("<stem>.idx" or "<name>.idx"), or an empty path when it has none.
fs::path index_of(const fs::path& shard) {
  for (const fs::path& candidate : {fs::path(shard).replace_extension(".idx"), fs::path(shard.string() + ".idx")}) {
    if (fs::exists(candidate)) return candidate;
  }
  return {};
}

std::vector<io::TarMember> shard_members(const fs::path& shard) {
  const fs::path index = index_of(shard);
  if (index.empty()) return io::list_tar(shard);
  std::vector<io::TarMember> members = io::decode_tar_index(read_file(index), index.string());
  const uint64_t bytes = fs::file_size(shard);
  for (const auto& member : members) {
    MUST_CHECK(member.offset + member.size <= bytes, index.string(), ": member '", member.name, "' ends at byte ",
               member.offset + member.size, ", past the end of ", shard.string(), " (", bytes,
               " bytes): the index is not this shard's");
  }
  return members;
}

// A member's bytes, read with the header before them: a header that does not describe the member means the table
// (an index beside the shard) is not this shard's.
std::string read_member(const fs::path& shard, const io::TarMember& member) {
  const bool after_a_header = member.offset >= 512;
  std::string bytes = after_a_header ? read_file_range(shard, member.offset - 512, member.size + 512) : std::string();
  MUST_CHECK(after_a_header && io::is_header_of(std::string_view(bytes).substr(0, 512), member.size), shard.string(),
             ": member '",
             member.name, "' is not at byte ", member.offset, " (its index is of another version of the shard)");
  bytes.erase(0, 512);
  return bytes;
}

// The shard's samples in archive order: each key's image, and its .cls member where it has one.
ShardSamples read_shard_samples(const fs::path& shard) {
  ShardSamples samples;
  std::unordered_map<std::string, size_t> sample_of_key;
  std::vector<std::pair<std::string, io::TarMember>> classes;
  for (io::TarMember& member : shard_members(shard)) {
    const auto [key, extension] = key_and_extension(member.name);
    if (extension == "jpg" || extension == "jpeg" || extension == "png") {
      const auto [it, inserted] = sample_of_key.emplace(key, samples.size());
      MUST_CHECK(inserted, shard.string(), ": key '", key, "' has two images (", samples[it->second].image.name, " and ",
                 member.name, ")");
      samples.push_back({std::move(member), std::nullopt});
    } else if (extension == "cls") {
      classes.emplace_back(key, std::move(member));
    }
  }
  for (auto& [key, member] : classes) {
    const auto it = sample_of_key.find(key);
    if (it != sample_of_key.end()) samples[it->second].cls = std::move(member);
  }
  return samples;
}

class TarShardsDataset final : public ShardedDataset {
 public:
  explicit TarShardsDataset(const DatasetOptions& options) {
    const fs::path root = options.split.empty() ? options.root : options.root / options.split;
    readers::require_exists(root, "tar shard folder", options.key("root"));
    std::vector<fs::path> paths;
    for (const auto& entry : fs::directory_iterator(root)) {
      if (entry.is_regular_file() && entry.path().extension() == ".tar") paths.push_back(entry.path());
    }
    std::sort(paths.begin(), paths.end());
    MUST_CHECK(!paths.empty(), root.string(), ": no .tar shards (", options.key("root"), ")");
    // Counted shard by shard: only one shard's member table is in memory at a time.
    for (auto& path : paths) {
      const int64_t count = int64_t(read_shard_samples(path).size());
      shards_.push_back({path, fs::file_size(path), size_, count});
      size_ += count;
    }
    MUST_CHECK(size_ > 0, root.string(), ": its ", paths.size(), " shard(s) hold no image (.jpg, .jpeg or .png member)");
    info_.name = "tar_shards:" + root.string();
    if (!options.class_names.empty()) {
      info_.tasks = {Task::kClassification};
      info_.class_names[Task::kClassification] = options.class_names;
    }
  }

  int64_t size() const override { return size_; }

  Sample get(int64_t index) const override {
    const auto [shard, sample] = locate(index);
    Sample out;
    out.source = shard->path.string() + ":" + sample.image.name;
    out.encoded = read_member(shard->path, sample.image);
    if (!info_.tasks.empty()) out.labels[Task::kClassification] = class_of(*shard, sample, out.source);
    return out;
  }

  std::string source(int64_t index) const override {
    const auto [shard, sample] = locate(index);
    return shard->path.string() + ":" + sample.image.name;
  }

  std::string shard_list_sha256() const override {
    Sha256 hash;
    for (const auto& shard : shards_) {
      hash.update(shard.path.filename().string() + " " + std::to_string(shard.bytes) + " " + std::to_string(shard.count) +
                  "\n");
    }
    return hash.hex_digest();
  }

  int64_t shard_count() const override { return int64_t(shards_.size()); }

 private:
  struct Shard {
    fs::path path;
    uint64_t bytes = 0;
    int64_t first = 0, count = 0;  // its samples' indices in the dataset: [first, first + count)
  };

  // The shard holding sample `index`, and the sample's members (a copy: the cache may drop the table).
  std::pair<const Shard*, ShardSample> locate(int64_t index) const {
    MUST_CHECK(index >= 0 && index < size_, info_.name, ": sample ", index, " outside [0, ", size_, ")");
    const auto after = std::upper_bound(shards_.begin(), shards_.end(), index,
                                        [](int64_t i, const Shard& shard) { return i < shard.first; });
    const Shard& shard = *std::prev(after);
    const std::shared_ptr<const ShardSamples> samples = samples_of(shard);
    MUST_CHECK(int64_t(samples->size()) == shard.count, shard.path.string(), ": holds ", samples->size(),
               " samples, ", shard.count, " when the dataset opened (changed since?)");
    return {&shard, (*samples)[size_t(index - shard.first)]};
  }

  // The shard's member table, from the cache of the last few shards read (loaders read a shard's samples in a row).
  std::shared_ptr<const ShardSamples> samples_of(const Shard& shard) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->first != &shard) continue;
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front().second;
      }
    }
    auto samples = std::make_shared<const ShardSamples>(read_shard_samples(shard.path));  // outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.emplace_front(&shard, samples);
    if (cache_.size() > kCachedShards) cache_.pop_back();
    return samples;
  }

  torch::Tensor class_of(const Shard& shard, const ShardSample& sample, const std::string& source) const {
    const int64_t classes = int64_t(info_.class_names.at(Task::kClassification).size());
    MUST_CHECK(sample.cls.has_value(), source, ": no .cls member beside the image (class_names are set, so every ",
               "sample needs its class)");
    const std::string text = read_member(shard.path, *sample.cls);
    int64_t label = -1;
    try {
      size_t used = 0;
      label = std::stoll(text, &used);
      if (text.find_first_not_of(" \t\r\n", used) != std::string::npos) label = -1;
    } catch (const std::exception&) {
    }
    MUST_CHECK(label >= 0 && label < classes, shard.path.string(), ":", sample.cls->name, ": '", text,
               "' is not a class index in [0, ", classes, ")");
    return one_hot(label, classes);
  }

  static constexpr size_t kCachedShards = 8;
  std::vector<Shard> shards_;
  int64_t size_ = 0;
  mutable std::mutex mutex_;
  mutable std::list<std::pair<const Shard*, std::shared_ptr<const ShardSamples>>> cache_;  // most recent first
};

}  // namespace

namespace readers {

std::shared_ptr<Dataset> tar_shards(const DatasetOptions& options) { return std::make_shared<TarShardsDataset>(options); }

}  // namespace readers
}  // namespace must::data
