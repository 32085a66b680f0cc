#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "must/core/parallel.h"

namespace must {
namespace {

TEST(ParallelFor, VisitsEveryIndexOnce) {
  for (int threads : {1, 2, 7}) {
    std::vector<std::atomic<int>> visits(1000);
    parallel_for(1000, threads, [&](int64_t i) { visits[size_t(i)]++; });
    for (const auto& v : visits) ASSERT_EQ(v.load(), 1);
  }
}

TEST(ParallelFor, RethrowsTheWorkersException) {
  EXPECT_THROW(parallel_for(100, 2,
                            [](int64_t i) {
                              if (i == 37) throw std::runtime_error("bad item");
                            }),
               std::runtime_error);
}

TEST(ParallelFor, ZeroItemsIsFine) {
  int calls = 0;
  parallel_for(0, 4, [&](int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace must
