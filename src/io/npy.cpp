#include "must/io/npy.h"

#include <torch/torch.h>

#include <cstring>
#include <regex>

#include "must/core/check.h"
#include "must/core/fs.h"

namespace must::io {
namespace {

struct NpyType {
  const char* descr;
  torch::ScalarType type;
  size_t item_size;
};

const NpyType kTypes[] = {
    {"|b1", torch::kBool, 1},  {"|u1", torch::kUInt8, 1}, {"|i1", torch::kInt8, 1},     {"<i2", torch::kInt16, 2},
    {"<i4", torch::kInt32, 4}, {"<i8", torch::kLong, 8},  {"<f4", torch::kFloat, 4},    {"<f8", torch::kDouble, 8},
    {"<f2", torch::kHalf, 2},  {"<u2", torch::kInt32, 2},  // widened on read
};

}  // namespace

torch::Tensor read_npy(const std::filesystem::path& path) { return decode_npy(read_file(path), path.string()); }

void write_npy(const std::filesystem::path& path, const torch::Tensor& array) { write_file(path, encode_npy(array)); }

torch::Tensor decode_npy(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) MUST_THROW(Error, source, ": not a .npy file");
  const int major = uint8_t(bytes[6]);
  size_t header_length = 0, header_start = 0;
  if (major == 1) {
    header_length = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    MUST_CHECK(bytes.size() >= 12, source, ": .npy header is truncated");
    for (int i = 0; i < 4; ++i) header_length |= size_t(uint8_t(bytes[8 + size_t(i)])) << (8 * i);
    header_start = 12;
  } else {
    MUST_THROW(Error, source, ": unsupported .npy version ", major);
  }
  MUST_CHECK(bytes.size() >= header_start + header_length, source, ": .npy header is truncated");
  const std::string header(bytes.substr(header_start, header_length));
  std::smatch match;
  if (!std::regex_search(header, match, std::regex("'descr':\\s*'([^']+)'"))) {
    MUST_THROW(Error, source, ": .npy header has no descr: ", header);
  }
  const std::string descr = match[1];
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True"))) {
    MUST_THROW(Error, source, ": Fortran-order .npy arrays are not supported");
  }
  if (!std::regex_search(header, match, std::regex("'shape':\\s*\\(([^)]*)\\)"))) {
    MUST_THROW(Error, source, ": .npy header has no shape: ", header);
  }
  std::vector<int64_t> shape;
  const std::string dims = match[1];
  const std::regex number("\\d+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  const NpyType* type = nullptr;
  for (const auto& candidate : kTypes) {
    if (descr == candidate.descr || (descr.size() == 3 && descr[0] == '=' && descr.substr(1) == std::string(candidate.descr).substr(1))) {
      type = &candidate;
    }
  }
  if (!type) MUST_THROW(Error, source, ": unsupported .npy dtype '", descr, "'");
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  const size_t data_start = header_start + header_length;
  const size_t needed = size_t(count) * type->item_size;
  if (bytes.size() - data_start < needed) {
    MUST_THROW(Error, source, ": .npy data is truncated (", bytes.size() - data_start, " bytes for ", needed, ")");
  }
  if (std::strcmp(type->descr, "<u2") == 0) {
    torch::Tensor wide = torch::empty(shape, torch::kInt32);
    auto* out = wide.data_ptr<int32_t>();
    for (int64_t i = 0; i < count; ++i) {
      out[i] = uint8_t(bytes[data_start + size_t(2 * i)]) | int32_t(uint8_t(bytes[data_start + size_t(2 * i) + 1])) << 8;
    }
    return wide;
  }
  torch::Tensor out = torch::empty(shape, type->type);
  std::memcpy(out.data_ptr(), bytes.data() + data_start, needed);
  return out;
}

std::string encode_npy(const torch::Tensor& array) {
  const torch::Tensor data = array.contiguous().cpu();
  const NpyType* type = nullptr;
  for (const auto& candidate : kTypes) {
    if (candidate.type == data.scalar_type() && std::strcmp(candidate.descr, "<u2") != 0) type = &candidate;
  }
  MUST_CHECK(type, "encode_npy: unsupported dtype ", data.scalar_type());
  std::string shape;  // (768, 1024, 1), (3,) or ()
  for (int64_t d : data.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
  if (data.dim() == 1) shape += ",";
  std::string header =
      "{'descr': '" + std::string(type->descr) + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xFF);
  out += char(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(data.data_ptr()), data.numel() * data.element_size());
  return out;
}

}  // namespace must::io
