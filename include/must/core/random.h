// Portable random draws from a 64-bit engine (std::mt19937_64, whose output the standard fixes bit for bit).
// std::uniform_*_distribution and std::shuffle are implementation-defined: their results differ between standard
// libraries, so augmentation and data order drawn through them would too. These are fixed formulas, as the world
// renderer's (world/geometry.h), so a seed gives the same batches everywhere.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace must {

// splitmix64's finaliser: seeds derived from (seed, epoch, index, ...) by mixing, so nearby inputs give unrelated
// streams.
inline uint64_t mix_seed(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1), 53 bits.
template <class Engine>
double uniform_unit(Engine& rng) {
  return double(uint64_t(rng()) >> 11) * 0x1.0p-53;
}

// Uniform in [low, high).
template <class Engine>
double uniform_real(Engine& rng, double low, double high) {
  return low + (high - low) * uniform_unit(rng);
}

// Uniform integer in [low, high] (inclusive). The modulo bias is below 2^-40 for any range a dataset has.
template <class Engine>
int64_t uniform_int(Engine& rng, int64_t low, int64_t high) {
  return low + int64_t(uint64_t(rng()) % uint64_t(high - low + 1));
}

// Fisher-Yates, from the back.
template <class T, class Engine>
void shuffle(std::vector<T>& values, Engine& rng) {
  for (int64_t i = int64_t(values.size()) - 1; i > 0; --i) std::swap(values[size_t(i)], values[size_t(uniform_int(rng, 0, i))]);
}

}  // namespace must
