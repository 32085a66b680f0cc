// Attributes for hand-written CPU kernels: loops written for the compiler to vectorise (contiguous, branch-free),
// built once more for x86-64-v3 (AVX2, FMA) and picked at load time, so that the project itself keeps building
// for generic x86-64. Sources holding such kernels are declared with must_cpu_kernel_sources() (CMake), which
// builds them with OpenMP (at::parallel_for is an OpenMP loop in Debian's LibTorch, serial without -fopenmp) and
// without trapping math (so that float maxima and clamps vectorise). Sums are not reassociated by the compiler:
// reduce into kLanes partial sums.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

// x86-64-v3 as a target_clones name needs GCC 11 (older ones, and clang, build the generic loop alone).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define MUST_CPU_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MUST_CPU_KERNEL
#endif

// For helpers called from a MUST_CPU_KERNEL: inlined, so they are compiled with the caller's instruction set.
#define MUST_KERNEL_INLINE inline __attribute__((always_inline))

namespace must {

constexpr int kLanes = 8;  // partial sums per reduction: one AVX2 register of floats

// out = a * wa + b * wb, n values (one linear-interpolation step over whole rows).
MUST_KERNEL_INLINE void blend(float* out, const float* a, float wa, const float* b, float wb, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * wa + b[i] * wb;
}

// Linear interpolation along one axis as ATen computes it for align_corners = false and a given output size
// (UpSampleKernel.cpp): output index i reads input indices `first` and `second` with these weights.
struct LinearTap {
  int64_t first, second;
  float first_weight, second_weight;
};

inline std::vector<LinearTap> linear_taps(int64_t input_size, int64_t output_size) {
  const float scale = float(input_size) / float(output_size);
  std::vector<LinearTap> taps(static_cast<size_t>(output_size));
  for (int64_t i = 0; i < output_size; ++i) {
    const float source = std::max(scale * (float(i) + 0.5f) - 0.5f, 0.0f);
    const int64_t first = std::min(int64_t(source), input_size - 1);
    const float lambda = std::min(std::max(source - float(first), 0.0f), 1.0f);
    taps[size_t(i)] = {first, first + (first < input_size - 1 ? 1 : 0), 1.0f - lambda, lambda};
  }
  return taps;
}

}  // namespace must
