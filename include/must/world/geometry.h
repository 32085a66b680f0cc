// Vectors and the counter-based random numbers of the world renderer. Header-only: the inner loops inline them.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace must::world {

struct Vec3 {
  double x = 0, y = 0, z = 0;
};
inline Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec3 operator*(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
inline Vec3 operator*(double s, Vec3 a) { return a * s; }
inline Vec3 mul(Vec3 a, Vec3 b) { return {a.x * b.x, a.y * b.y, a.z * b.z}; }
inline double dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
inline double norm(Vec3 a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalized(Vec3 a) { return a * (1.0 / norm(a)); }

inline constexpr double kPi = 3.14159265358979323846;
inline double radians(double degrees) { return degrees * kPi / 180.0; }

// SplitMix64 (Steele, Lea, Flood 2014): a counter-based generator, so every image gets its own stream from
// (seed, split, index) and the output does not depend on which thread renders which image.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits. Hand-written rather than std::uniform_real_distribution, whose output differs
  // between standard libraries: the world must be byte-identical everywhere.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Uniform integer in [low, high] (inclusive).
  int64_t integer(int64_t low, int64_t high) { return low + int64_t(next() % uint64_t(high - low + 1)); }

 private:
  uint64_t state_;
};

// Mixes values into a seed (for per-image streams).
inline uint64_t mix_seed(uint64_t seed, uint64_t value) {
  Rng rng(seed ^ (value + 0x632be59bd9b4e019ULL + (seed << 6) + (seed >> 2)));
  return rng.next();
}
// FNV-1a of a name, to derive a split's stream from its name.
inline uint64_t hash_name(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) h = (h ^ uint8_t(c)) * 0x100000001b3ULL;
  return h;
}

}  // namespace must::world
