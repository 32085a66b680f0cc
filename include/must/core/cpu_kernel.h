// Attributes for hand-written CPU kernels: loops written for the compiler to vectorise (contiguous, branch-free),
// built once more for x86-64-v3 (AVX2, FMA) and picked at load time, so that the project itself keeps building
// for generic x86-64. Sources holding such kernels are declared with must_cpu_kernel_sources() (CMake), which
// builds them with OpenMP (at::parallel_for is an OpenMP loop in Debian's LibTorch, serial without -fopenmp) and
// without trapping math (so that float maxima and clamps vectorise). Sums are not reassociated by the compiler:
// reduce into kLanes partial sums.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MUST_CPU_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MUST_CPU_KERNEL
#endif

// For helpers called from a MUST_CPU_KERNEL: inlined, so they are compiled with the caller's instruction set.
#define MUST_KERNEL_INLINE inline __attribute__((always_inline))

namespace must {
constexpr int kLanes = 8;  // partial sums per reduction: one AVX2 register of floats
}
