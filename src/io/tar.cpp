#include "must/io/tar.h"

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>

#include "must/core/check.h"

namespace must::io {
namespace {

constexpr size_t kBlock = 512;

uint64_t padded(uint64_t size) { return (size + kBlock - 1) / kBlock * kBlock; }

// `value` as `digits` octal digits followed by a NUL, into `field`.
void put_octal(char* field, size_t digits, uint64_t value) {
  for (size_t i = digits; i-- > 0; value >>= 3) field[i] = char('0' + (value & 7));
  MUST_CHECK(value == 0, "tar: a value does not fit in ", digits, " octal digits");
  field[digits] = '\0';
}

uint64_t read_octal(const char* field, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width && field[i] != '\0' && field[i] != ' '; ++i) {
    MUST_CHECK(field[i] >= '0' && field[i] <= '7', "not an octal digit");
    value = value * 8 + uint64_t(field[i] - '0');
  }
  return value;
}

uint64_t header_checksum(const char* header) {
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? uint8_t(' ') : uint8_t(header[i]);
  return sum;
}

std::string field_text(const char* field, size_t width) { return std::string(field, strnlen(field, width)); }

// The "path" of a pax extended header's records ("<length> <key>=<value>\n" each), or "" when it has none.
std::string pax_path(const std::string& records, const std::string& where) {
  size_t position = 0;
  std::string path;
  while (position < records.size() && records[position] != '\0') {
    const size_t space = records.find(' ', position);
    size_t length = 0;
    try {
      length = std::stoul(records.substr(position, space - position));
    } catch (const std::exception&) {
      MUST_THROW(Error, where, ": a pax header record does not start with its length");
    }
    MUST_CHECK(space != std::string::npos && length > space - position && position + length <= records.size(), where,
               ": a pax header record runs past its header");
    const std::string record = records.substr(space + 1, position + length - space - 2);  // without the newline
    if (record.rfind("path=", 0) == 0) path = record.substr(5);
    position += length;
  }
  return path;
}

}  // namespace

const TarMember& TarWriter::add(const std::string& name, std::string_view bytes) {
  MUST_CHECK(!finished_, "tar ", out_.path().string(), ": a member after the end");
  MUST_CHECK(!name.empty(), "tar ", out_.path().string(), ": a member needs a name");
  std::string prefix, base = name;
  if (name.size() > 100) {  // ustar: prefix + '/' + name
    const size_t slash = name.rfind('/', 155);
    MUST_CHECK(slash != std::string::npos && slash > 0 && name.size() - slash - 1 <= 100 && name.size() - slash - 1 > 0,
               "tar ", out_.path().string(), ": the name '", name, "' does not fit a ustar header");
    prefix = name.substr(0, slash);
    base = name.substr(slash + 1);
  }
  std::array<char, kBlock> header{};
  std::memcpy(header.data(), base.data(), base.size());
  std::memcpy(header.data() + 100, "0000644", 8);
  std::memcpy(header.data() + 108, "0000000", 8);
  std::memcpy(header.data() + 116, "0000000", 8);
  put_octal(header.data() + 124, 11, bytes.size());
  put_octal(header.data() + 136, 11, 0);
  header[156] = '0';
  std::memcpy(header.data() + 257, "ustar", 6);
  std::memcpy(header.data() + 263, "00", 2);
  std::memcpy(header.data() + 329, "0000000", 8);
  std::memcpy(header.data() + 337, "0000000", 8);
  std::memcpy(header.data() + 345, prefix.data(), prefix.size());
  put_octal(header.data() + 148, 6, header_checksum(header.data()));
  header[155] = ' ';

  out_.write(std::string_view(header.data(), kBlock));
  TarMember member{name, out_.size(), bytes.size()};
  out_.write(bytes);
  static const std::array<char, kBlock> zeros{};
  out_.write(std::string_view(zeros.data(), padded(bytes.size()) - bytes.size()));
  members_.push_back(std::move(member));
  return members_.back();
}

void TarWriter::finish() {
  MUST_CHECK(!finished_, "tar ", out_.path().string(), ": finished twice");
  static const std::array<char, 2 * kBlock> zeros{};
  out_.write(std::string_view(zeros.data(), zeros.size()));
  finished_ = true;
}

bool is_header_of(std::string_view block, uint64_t size) {
  if (block.size() != kBlock) return false;
  try {
    return read_octal(block.data() + 148, 8) == header_checksum(block.data()) &&
           read_octal(block.data() + 124, 12) == size && (block[156] == '0' || block[156] == '\0');
  } catch (const Error&) {
    return false;
  }
}

std::vector<TarMember> list_tar(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MUST_CHECK(in.good(), "cannot open '", path.string(), "'");
  const uint64_t file_size = std::filesystem::file_size(path);
  std::vector<TarMember> members;
  std::array<char, kBlock> header{};
  uint64_t position = 0;
  std::string next_name;  // the next member's name, from a long-name entry before it
  for (;;) {
    MUST_CHECK(position + kBlock <= file_size, path.string(), ": the archive ends at byte ", file_size,
               " without its end blocks (truncated?)");
    in.seekg(std::streamoff(position));
    in.read(header.data(), kBlock);
    MUST_CHECK(in.good(), "cannot read '", path.string(), "' at byte ", position);
    bool zero = true;
    for (char c : header) zero = zero && c == '\0';
    if (zero) break;  // the end
    uint64_t stored_checksum = 0, size = 0;
    try {
      stored_checksum = read_octal(header.data() + 148, 8);
      size = read_octal(header.data() + 124, 12);
    } catch (const Error&) {
      MUST_THROW(Error, path.string(), ": the tar header at byte ", position, " is damaged");
    }
    MUST_CHECK(stored_checksum == header_checksum(header.data()), path.string(), ": the tar header at byte ", position,
               " fails its checksum (damaged)");
    const char type = header[156];
    std::string name = field_text(header.data(), 100);
    const std::string prefix = field_text(header.data() + 345, 155);
    if (!prefix.empty()) name = prefix + "/" + name;
    const uint64_t data = position + kBlock;
    MUST_CHECK(data + size <= file_size, path.string(), ": member '", name, "' runs past the end of the file (truncated?)");
    if (type == 'L' || type == 'x') {
      // The next member's long name: GNU tar's ././@LongLink entry, or a pax header's path (Python's tarfile).
      const std::string text = read_file_range(path, data, size);
      const std::string where = path.string() + " at byte " + std::to_string(position);
      const std::string long_name = type == 'L' ? field_text(text.data(), text.size()) : pax_path(text, where);
      if (!long_name.empty()) next_name = long_name;
    } else {
      if (!next_name.empty()) name = next_name;
      next_name.clear();
      if (type == '0' || type == '\0') members.push_back({name, data, size});
    }
    position = data + padded(size);
  }
  return members;
}

std::string encode_tar_index(const std::vector<TarMember>& members) {
  std::string text;
  for (const auto& m : members) text += std::to_string(m.offset) + " " + std::to_string(m.size) + " " + m.name + "\n";
  return text;
}

std::vector<TarMember> decode_tar_index(std::string_view text, const std::string& source) {
  std::vector<TarMember> members;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (size_t number = 1; std::getline(lines, line); ++number) {
    std::istringstream fields(line);
    TarMember member;
    fields >> member.offset >> member.size;
    fields.get();  // the one space before the name
    std::getline(fields, member.name);
    MUST_CHECK(!fields.bad() && !member.name.empty() && line.find(' ') != std::string::npos, source, ": line ", number,
               " is not '<offset> <size> <name>': '", line, "'");
    members.push_back(std::move(member));
  }
  return members;
}

}  // namespace must::io
