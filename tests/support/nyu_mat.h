// NYU Depth v2's labeled .mat for reader tests: HDF5 (MATLAB 7.3, a 512-byte user block), MATLAB's dims reversed.
#pragma once

#include <torch/types.h>

#include <filesystem>

namespace must::test {

// images uint8 (N, 3, W, H); depths float (N, W, H) in metres, written as `depths` unless with_depths is false.
void write_nyu_mat(const std::filesystem::path& file, const torch::Tensor& images, const torch::Tensor& depths,
                   bool with_depths = true);

}  // namespace must::test
