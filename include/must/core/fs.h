// Filesystem helpers. Writers never leave a half-written file under the final name: they write
// `<name>.tmp.<pid>`, fsync it, rename it over the final name and fsync the directory, so a crash leaves either
// the old file or the new one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "must/core/sha256.h"

namespace must {

namespace fs = std::filesystem;

// Atomically replaces `path` with `bytes`. Throws must::Error naming the file on failure.
void atomic_write_file(const fs::path& path, std::string_view bytes);

// The streaming form, for files too large to hold (pseudo-label shards): bytes go to `<path>.tmp.<pid>` as they
// come; commit() fsyncs the file, renames it to `path` and fsyncs the directory. Destroyed without commit() (an
// error, an exception on the way) it removes the temporary: a half-written file never carries the final name.
// With `hash`, the bytes are hashed as they are written (the pseudo-label shard's checksum without reading it back).
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(fs::path path, bool hash = false);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(std::string_view bytes);
  uint64_t size() const { return size_; }  // bytes written so far
  void commit();
  // SHA-256 (hex) of everything written; once, after commit(), for a writer made with `hash`.
  std::string sha256_hex();
  const fs::path& path() const { return path_; }
  const fs::path& temporary_path() const { return temp_; }

 private:
  fs::path path_, temp_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::unique_ptr<Sha256> hash_;
};

// Writes `bytes` to `path` without the fsync and rename: for bulk outputs (dataset files) whose completeness is
// marked by one index file written last with atomic_write_file.
void write_file(const fs::path& path, std::string_view bytes);

// Reads a whole file. Throws must::Error naming the file when it is missing or unreadable.
std::string read_file(const fs::path& path);

// Reads `size` bytes at `offset`. Throws must::Error naming the file when it is unreadable or shorter.
std::string read_file_range(const fs::path& path, uint64_t offset, uint64_t size);

// Creates `dir` and its parents if needed; throws naming the directory when that fails.
void ensure_directory(const fs::path& dir);

}  // namespace must
