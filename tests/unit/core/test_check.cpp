#include <gtest/gtest.h>

#include "must/core/check.h"

namespace must {
namespace {

TEST(Check, PassingCheckDoesNothing) { EXPECT_NO_THROW(MUST_CHECK(1 + 1 == 2, "never shown")); }

TEST(Check, FailingCheckThrowsWithStreamedParts) {
  try {
    const int dims = 3;
    MUST_CHECK(dims == 2, "boxes should be a 2d tensor, got ", dims, "D");
    FAIL() << "MUST_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "boxes should be a 2d tensor, got 3D");
  }
}

TEST(Check, ConfigErrorIsAnError) {
  EXPECT_THROW(MUST_THROW(ConfigError, "key 'a'"), ConfigError);
  EXPECT_THROW(MUST_THROW(ConfigError, "key 'a'"), Error);
}

}  // namespace
}  // namespace must
