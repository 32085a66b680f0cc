#include "must/core/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "must/core/check.h"

namespace must {
namespace {

std::string errno_text() { return std::strerror(errno); }

void fsync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  MUST_CHECK(fd >= 0, "cannot open '", path.string(), "' to sync it: ", errno_text());
  const int rc = ::fsync(fd);
  ::close(fd);
  MUST_CHECK(rc == 0, "cannot fsync '", path.string(), "': ", errno_text());
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(fs::path path, bool hash)
    : path_(std::move(path)),
      temp_(path_.string() + ".tmp." + std::to_string(::getpid())),
      hash_(hash ? std::make_unique<Sha256>() : nullptr) {
  if (path_.has_parent_path()) ensure_directory(path_.parent_path());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  MUST_CHECK(fd_ >= 0, "cannot create '", temp_.string(), "': ", errno_text());
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(temp_.c_str());
}

void AtomicFileWriter::write(std::string_view bytes) {
  MUST_CHECK(fd_ >= 0, "'", path_.string(), "' is already committed");
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    MUST_CHECK(n > 0, "cannot write '", temp_.string(), "': ", errno_text());
    written += static_cast<size_t>(n);
  }
  size_ += bytes.size();
  if (hash_) hash_->update(bytes);
}

std::string AtomicFileWriter::sha256_hex() {
  MUST_CHECK(hash_ && fd_ < 0, "'", path_.string(), "': sha256_hex() needs a hashing writer, after commit()");
  std::string hex = hash_->hex_digest();
  hash_.reset();
  return hex;
}

void AtomicFileWriter::commit() {
  MUST_CHECK(fd_ >= 0, "'", path_.string(), "' is already committed");
  MUST_CHECK(::fsync(fd_) == 0, "cannot fsync '", temp_.string(), "': ", errno_text());
  ::close(fd_);
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp_.c_str());
    MUST_THROW(Error, "cannot rename '", temp_.string(), "' to '", path_.string(), "': ", why);
  }
  fsync_path(path_.has_parent_path() ? path_.parent_path() : fs::path("."), O_RDONLY | O_DIRECTORY);
}

void atomic_write_file(const fs::path& path, std::string_view bytes) {
  AtomicFileWriter out(path);
  out.write(bytes);
  out.commit();
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  MUST_CHECK(out.good(), "cannot create '", path.string(), "'");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  MUST_CHECK(out.good(), "cannot write '", path.string(), "'");
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  MUST_CHECK(in.good(), "cannot open '", path.string(), "': ",
             fs::exists(path) ? "permission denied or not a file" : "no such file");
  std::ostringstream out;
  out << in.rdbuf();
  MUST_CHECK(!in.bad(), "cannot read '", path.string(), "'");
  return out.str();
}

std::string read_file_range(const fs::path& path, uint64_t offset, uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MUST_CHECK(fd >= 0, "cannot open '", path.string(), "': ", errno_text());
  std::string bytes(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, bytes.data() + done, size - done, off_t(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n == 0 ? std::string("the file ends first") : errno_text();
      ::close(fd);
      MUST_THROW(Error, "cannot read ", size, " bytes at offset ", offset, " of '", path.string(), "': ", why);
    }
    done += uint64_t(n);
  }
  ::close(fd);
  return bytes;
}

void ensure_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  MUST_CHECK(!ec, "cannot create directory '", dir.string(), "': ", ec.message());
}

}  // namespace must
