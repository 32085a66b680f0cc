#include <gtest/gtest.h>

#include "must/core/strings.h"

namespace must {
namespace {

TEST(Strings, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("splits", "splts"), 1u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
}

TEST(Strings, NearestNameOnlySuggestsPlausibleTypos) {
  const std::vector<std::string> keys = {"image_size", "seed", "splits", "classes"};
  EXPECT_EQ(nearest_name("image_sise", keys), "image_size");
  EXPECT_EQ(nearest_name("splts", keys), "splits");
  EXPECT_EQ(nearest_name("learning_rate", keys), "");
}

TEST(Strings, SplitKeepsEmptyPartsAndJoinJoins) {
  EXPECT_EQ(split("a.b.c", '.'), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split("a..b", '.'), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(join({"x", "y"}, "+"), "x+y");
}

}  // namespace
}  // namespace must
