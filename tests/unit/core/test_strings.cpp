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

TEST(Strings, PrintableKeepsUtf8AndEscapesControlsAndBrokenBytes) {
  EXPECT_EQ(printable("plain text: 12 m\u00b2, \u65e5\u672c, \U0001f600"), "plain text: 12 m\u00b2, \u65e5\u672c, \U0001f600");
  EXPECT_EQ(printable(std::string("a\x1b[31mb\nc\x7f", 10)), "a\\x1b[31mb\\x0ac\\x7f");
  EXPECT_EQ(printable(std::string("\0", 1)), "\\x00");
  // Not UTF-8: a lone continuation byte, a cut-off sequence, an overlong '/', a surrogate, above U+10FFFF.
  EXPECT_EQ(printable("\x80"), "\\x80");
  EXPECT_EQ(printable("\xe6\x97"), "\\xe6\\x97");
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  EXPECT_EQ(printable("PK\x03\x04"), "PK\\x03\\x04");  // a zip file read as JSON
}

}  // namespace
}  // namespace must
