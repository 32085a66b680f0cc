// The pseudo-label store: a folder any tool reads back and any person inspects with `tar`.
//
//   <store>/manifest.json                 written by must_pseudolabel (manifest.h): format, tasks, teachers, policy,
//                                         input, shard size; once finished, the shard table and the failed images
//   <store>/shards/labels-NNNNNN.tar      ustar (io/tar.h). Input shard NNNNNN holds input indices
//                                         [NNNNNN x shard_size, + shard_size); per image, key K = the input index
//                                         as 9 digits ("000000042"), its members in this order:
//                                           K.json   {"index", "source", "original_size": [H, W], "stored_size": [H, W]}
//                                           K.cls.npy, K.det.json, K.seg.png, K.depth.npy, K.normal.npy  (label_codec.h;
//                                                    the tasks of the store, in task order)
//                                           K.jpg or K.png  the image itself, when the store packs images (the
//                                                    input file's bytes, or PNG for images read from records)
//   <store>/shards/labels-NNNNNN.idx      "<offset> <size> <name>" per member (io/tar.h): random access by key
//   <store>/shards/labels-NNNNNN.done     {"name", "first", "count", "bytes", "sha256", "idx_sha256", "failed": [...]}:
//                                         count = images stored; bytes and sha256 of the tar, sha256 of the .idx;
//                                         written last
//
// Writing a shard (ShardWriter): the tar streams to a temporary name, is fsynced and renamed; then the .idx, then
// the .done, each atomically. A shard is finished when its .done exists and the tar's size and sha256 and the
// .idx's sha256 match it; anything else (no .done, a mismatch, a missing tar or .idx) is redone by a rerun. No
// partial tar ever carries a final name. The .idx is hashed too: its offsets decide which bytes are read as which
// image's label, so an index whose entries were swapped would otherwise serve one image's label as another's.
//
// Python reads a store with tarfile + json + numpy + PIL alone (tests/labels/read_store.py does).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "must/core/fs.h"
#include "must/core/task.h"
#include "must/data/dataset.h"
#include "must/io/tar.h"
#include "must/labels/manifest.h"

namespace must::labels {

// The manifest's input.list_sha256: of each input's source() name and a newline, in index order. A dataset
// with the same images in the same order gives the same value. A sharded dataset (data/tar_shards.h) gives its
// shard list's hash instead (a line per shard: name, bytes, samples), so planning costs a line per shard.
std::string input_list_sha256(const data::Dataset& input);

std::string shard_name(int64_t shard);          // "labels-000042"
std::string key_of(int64_t index);              // "000000042"
std::filesystem::path shard_tar(const std::filesystem::path& store, int64_t shard);

class ShardWriter {
 public:
  ShardWriter(const std::filesystem::path& store, int64_t shard, int64_t first);
  // One image's members, in order: K.json first (the image's record), then its labels (and image).
  void add(const std::string& key, const std::vector<std::pair<std::string, std::string>>& members);
  void add_failed(FailedImage failed) { failed_.push_back(std::move(failed)); }
  // Finishes and renames the tar, then writes the .idx and the .done. Returns the shard's record.
  ShardRecord commit();

 private:
  std::filesystem::path store_;
  int64_t shard_, first_;
  AtomicFileWriter file_;
  io::TarWriter tar_;
  int64_t count_ = 0;
  std::vector<FailedImage> failed_;
};

// The record of shard `shard` when it is finished (its .done matches the tar's size and sha256 and the .idx's
// sha256); nullopt otherwise, with the reason in `why` (when given): "not written", "tar is 123 bytes, .done says
// 456", "sha256 mismatch", ".idx sha256 mismatch".
std::optional<ShardRecord> finished_shard(const std::filesystem::path& store, int64_t shard, std::string* why = nullptr);

// Re-hashes every shard's tar and .idx against the manifest. Returns one line per problem, each naming the shard
// ("labels-000003: sha256 mismatch (manifest ab12..., file 9f00...)"); empty when the store is whole. Throws
// must::Error when the manifest does not read (another format version, not finished).
std::vector<std::string> verify_store(const std::filesystem::path& store);

// Reads a finished store back for the student: samples by key with their labels decoded to data::Sample layouts.
// Each .idx is checked against the manifest's sha256 when the store opens, a shard's tar against its size and
// sha256 when it is first read; a damaged shard is refused (must::Error naming it). Thread-safe.
class StoreReader {
 public:
  explicit StoreReader(std::filesystem::path store);
  ~StoreReader();
  const Manifest& manifest() const { return manifest_; }
  const std::vector<Task>& tasks() const { return manifest_.tasks; }
  // Every stored key, in input order.
  const std::vector<std::string>& keys() const { return keys_; }
  // The image's record (K.json) and its labels; the image itself too when the store packs images.
  data::Sample get(const std::string& key) const;
  // The same, from the image's record already read.
  data::Sample get(const std::string& key, const nlohmann::json& record) const;
  nlohmann::json record(const std::string& key) const;

 private:
  struct Shard;
  const Shard& open_shard(size_t shard) const;
  std::string member(const std::string& key, const std::string& suffix) const;

  std::filesystem::path store_;
  Manifest manifest_;
  std::vector<std::string> keys_;
  std::map<std::string, size_t> shard_of_key_;
  mutable std::vector<std::unique_ptr<Shard>> opened_;
  mutable std::unique_ptr<std::mutex> mutex_;
};

}  // namespace must::labels
