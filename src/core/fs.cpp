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

void atomic_write_file(const fs::path& path, std::string_view bytes) {
  if (path.has_parent_path()) ensure_directory(path.parent_path());
  const fs::path temp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    MUST_CHECK(fd >= 0, "cannot create '", temp.string(), "': ", errno_text());
    size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string why = errno_text();
        ::close(fd);
        ::unlink(temp.c_str());
        MUST_THROW(Error, "cannot write '", temp.string(), "': ", why);
      }
      written += static_cast<size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced) {
      ::unlink(temp.c_str());
      MUST_THROW(Error, "cannot fsync '", temp.string(), "': ", errno_text());
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp.c_str());
    MUST_THROW(Error, "cannot rename '", temp.string(), "' to '", path.string(), "': ", why);
  }
  fsync_path(path.has_parent_path() ? path.parent_path() : fs::path("."), O_RDONLY | O_DIRECTORY);
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

void ensure_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  MUST_CHECK(!ec, "cannot create directory '", dir.string(), "': ", ec.message());
}

}  // namespace must
