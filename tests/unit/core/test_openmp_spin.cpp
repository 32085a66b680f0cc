#include <gtest/gtest.h>

#include <string>

#include "must/core/openmp_spin.h"

namespace must {
namespace {

TEST(OpenMPSpin, ShortSpinUnlessTheUserChoseAPolicy) {
  EXPECT_EQ(std::string(openmp_spin_setting(nullptr, nullptr)), "1000");
  EXPECT_EQ(openmp_spin_setting("300000", nullptr), nullptr);
  EXPECT_EQ(openmp_spin_setting(nullptr, "passive"), nullptr);
  EXPECT_EQ(openmp_spin_setting("0", "active"), nullptr);
}

}  // namespace
}  // namespace must
