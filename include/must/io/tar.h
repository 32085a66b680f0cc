// POSIX ustar archives, the container of WebDataset-style shards (docs/formats.md), and their member index.
//
// What TarWriter writes, byte for byte. Per member:
//   a 512-byte header: name (100 bytes, NUL-padded; a longer path is split at a '/' into prefix (155) and name),
//   mode "0000644\0", uid and gid "0000000\0", size (11 octal digits + NUL), mtime "00000000000\0" (0: a shard's
//   bytes depend on its contents only), checksum (6 octal digits, NUL, space: the unsigned sum of the header's 512
//   bytes with this field read as 8 spaces), typeflag '0', linkname empty, magic "ustar\0", version "00", uname
//   and gname empty, devmajor/devminor "0000000\0", prefix, zero padding;
//   then the member's bytes, zero-padded to a multiple of 512.
// The end: two 512-byte zero blocks. Python's tarfile, GNU tar and WebDataset read it.
//
// The index (`.idx` beside a shard): one text line per member, in archive order, "<offset> <size> <name>\n", where
// offset is the position of the member's first data byte in the tar: random access is one pread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "must/core/fs.h"

namespace must::io {

struct TarMember {
  std::string name;
  uint64_t offset = 0;  // of its data, from the start of the archive
  uint64_t size = 0;
  bool operator==(const TarMember& other) const {
    return name == other.name && offset == other.offset && size == other.size;
  }
};

// Streams members into an AtomicFileWriter (the caller commits it after finish()).
class TarWriter {
 public:
  explicit TarWriter(AtomicFileWriter& out) : out_(out) {}
  // Throws must::Error when the name is empty or cannot be stored in ustar (> 255 bytes, or no '/' to split at).
  const TarMember& add(const std::string& name, std::string_view bytes);
  // The two end blocks; no member can follow.
  void finish();
  const std::vector<TarMember>& members() const { return members_; }

 private:
  AtomicFileWriter& out_;
  std::vector<TarMember> members_;
  bool finished_ = false;
};

// The members of a tar file, each header's checksum checked. Throws must::Error naming the file and the
// position when a header is damaged or the archive ends inside a member. Regular files only (other entries,
// such as directories, are skipped). Names longer than ustar's come from the entry before the member: GNU tar's
// ././@LongLink ('L') or a pax header's path ('x', what Python's tarfile writes).
std::vector<TarMember> list_tar(const std::filesystem::path& path);

// Whether `block`, the 512 bytes before a member's data, is the header of a regular member of `size` bytes (its
// checksum checked): what a reader that found the member through an index checks, so that an index of another
// version of the archive is caught.
bool is_header_of(std::string_view block, uint64_t size);

std::string encode_tar_index(const std::vector<TarMember>& members);
// Throws must::Error naming `source` and the line when a line does not parse.
std::vector<TarMember> decode_tar_index(std::string_view text, const std::string& source);

}  // namespace must::io
