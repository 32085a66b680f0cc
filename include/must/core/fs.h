// Filesystem helpers. Writers never leave a half-written file under the final name: they write
// `<name>.tmp.<pid>`, fsync it, rename it over the final name and fsync the directory, so a crash leaves either
// the old file or the new one.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace must {

namespace fs = std::filesystem;

// Atomically replaces `path` with `bytes`. Throws must::Error naming the file on failure.
void atomic_write_file(const fs::path& path, std::string_view bytes);

// Writes `bytes` to `path` without the fsync and rename: for bulk outputs (dataset files) whose completeness is
// marked by one index file written last with atomic_write_file.
void write_file(const fs::path& path, std::string_view bytes);

// Reads a whole file. Throws must::Error naming the file when it is missing or unreadable.
std::string read_file(const fs::path& path);

// Creates `dir` and its parents if needed; throws naming the directory when that fails.
void ensure_directory(const fs::path& dir);

}  // namespace must
