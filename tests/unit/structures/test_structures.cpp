#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/structures/feature_map.h"
#include "must/structures/image_list.h"

namespace must::structures {
namespace {

TEST(ImageList, PadsToTheLargestSizeRoundedToTheStrideAndKeepsSizes) {
  const auto a = torch::ones({3, 50, 70}), b = torch::full({3, 64, 33}, 2.0);
  const ImageList batch = ImageList::batch({a, b}, 32);
  EXPECT_EQ(batch.tensors.sizes(), (std::vector<int64_t>{2, 3, 64, 96}));
  EXPECT_EQ(batch.image_sizes, (std::vector<std::array<int64_t, 2>>{{50, 70}, {64, 33}}));
  EXPECT_EQ(batch.padded_size(), (std::vector<int64_t>{64, 96}));
  EXPECT_TRUE(torch::equal(batch.tensors[0].narrow(1, 0, 50).narrow(2, 0, 70), a));
  EXPECT_EQ(batch.tensors[0].sum().item<double>(), a.sum().item<double>());  // zeros elsewhere
  EXPECT_EQ(batch.tensors[1].sum().item<double>(), b.sum().item<double>());
  EXPECT_THROW(ImageList::batch({a, torch::ones({1, 5, 5})}), Error);
  EXPECT_THROW(ImageList::batch({}), Error);
}

TEST(FeatureMap, NamesStridesAndMissingNames) {
  FeatureMap map;
  map.add("p2", torch::zeros({1, 4, 8, 8}), 4);
  map.add("p3", torch::zeros({1, 4, 4, 4}), 8);
  EXPECT_EQ(map.names(), (std::vector<std::string>{"p2", "p3"}));
  EXPECT_EQ(map.stride("p3"), 8);
  EXPECT_THROW(map.add("p2", torch::zeros({1}), 4), Error);
  try {
    map.at("p4");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "no feature named 'p4'; this map has: p2, p3");
  }
}

}  // namespace
}  // namespace must::structures
