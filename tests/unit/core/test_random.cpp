#include <gtest/gtest.h>

#include <random>

#include "must/core/random.h"

namespace must {
namespace {

// The draws are fixed formulas over std::mt19937_64 (itself fixed by the standard), so these values hold with any
// standard library; std::uniform_int_distribution and std::shuffle would give libstdc++'s values only.
TEST(Random, DrawsAreTheSameEverywhere) {
  std::mt19937_64 rng(42);
  std::vector<int64_t> integers;
  for (int i = 0; i < 5; ++i) integers.push_back(uniform_int(rng, 0, 9));
  EXPECT_EQ(integers, (std::vector<int64_t>{6, 4, 0, 2, 1}));
  EXPECT_DOUBLE_EQ(uniform_real(rng, 0, 1), 0.094068311762837031);
  EXPECT_DOUBLE_EQ(uniform_real(rng, -2, 3), 0.87285152054131965);
  std::vector<int> values = {0, 1, 2, 3, 4, 5, 6, 7};
  shuffle(values, rng);
  EXPECT_EQ(values, (std::vector<int>{5, 3, 6, 2, 7, 1, 4, 0}));
}

TEST(Random, StaysInItsRange) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = uniform_int(rng, -3, 3);
    EXPECT_GE(v, -3);
    EXPECT_LE(v, 3);
    const double u = uniform_real(rng, 2.0, 2.5);
    EXPECT_GE(u, 2.0);
    EXPECT_LT(u, 2.5);
  }
}

}  // namespace
}  // namespace must
