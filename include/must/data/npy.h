// NumPy .npy files (format 1.0/2.0/3.0: magic "\x93NUMPY", version, little-endian header length, an ASCII
// dict {'descr': '<f4', 'fortran_order': False, 'shape': (H, W, 1), } padded to 64-byte alignment, then the
// raw data). DIODE ships depth, depth masks and normals this way.
#pragma once

#include <torch/types.h>

#include <filesystem>

namespace must::data {

// Reads a C-order array of little-endian bool, (u)int8, int16/32/64, uint16 (as int32), float32 or float64.
// Throws must::Error naming the file and what is wrong (truncated, unsupported descr, Fortran order).
torch::Tensor read_npy(const std::filesystem::path& path);

// Writes a version 1.0 file of a CPU tensor (bool, uint8, int8, int16, int32, int64, float32, float64).
void write_npy(const std::filesystem::path& path, const torch::Tensor& array);

}  // namespace must::data
