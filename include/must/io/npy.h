// NumPy .npy arrays as bytes (format 1.0/2.0/3.0: magic "\x93NUMPY", version, little-endian header length, an
// ASCII dict {'descr': '<f4', 'fortran_order': False, 'shape': (H, W, 1), } padded to 64-byte alignment, then
// the raw data). DIODE ships depth, depth masks and normals this way; the pseudo-label store keeps soft class
// vectors and depth maps as float16 ('<f2') arrays in it.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace must::io {

// Decodes a C-order array of little-endian bool, (u)int8, int16/32/64, uint16 (as int32), float16, float32 or
// float64. Throws must::Error naming `source` and what is wrong (truncated, unsupported descr, Fortran order).
torch::Tensor decode_npy(std::string_view bytes, const std::string& source);

// A version 1.0 array of a tensor (bool, uint8, int8, int16, int32, int64, float16, float32, float64).
std::string encode_npy(const torch::Tensor& array);

// The file forms of the two.
torch::Tensor read_npy(const std::filesystem::path& path);
void write_npy(const std::filesystem::path& path, const torch::Tensor& array);

}  // namespace must::io
