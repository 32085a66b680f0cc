#include <gtest/gtest.h>

#include <memory>

#include "must/core/registry.h"

namespace must {
namespace {

struct Widget {
  virtual ~Widget() = default;
  virtual int value() const = 0;
};
struct Scaled : Widget {
  explicit Scaled(int v) : v_(v) {}
  int value() const override { return v_; }
  int v_;
};

TEST(Registry, CreatesByNameWithArguments) {
  Registry<std::unique_ptr<Widget>, int> registry("widget");
  registry.add("double", [](int x) { return std::make_unique<Scaled>(2 * x); });
  registry.add("triple", [](int x) { return std::make_unique<Scaled>(3 * x); });
  EXPECT_EQ(registry.create("double", 5)->value(), 10);
  EXPECT_EQ(registry.create("triple", 5)->value(), 15);
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"double", "triple"}));
  EXPECT_TRUE(registry.contains("double"));
  EXPECT_FALSE(registry.contains("quadruple"));
}

TEST(Registry, UnknownNameListsKnownNames) {
  Registry<int> registry("backbone");
  registry.add("resnet50", [] { return 50; });
  registry.add("resnet18", [] { return 18; });
  try {
    registry.create("resnet5O");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "unknown backbone 'resnet5O' (did you mean 'resnet50'?); known: resnet18, resnet50");
  }
}

TEST(Registry, RegisteringTwiceIsAnError) {
  Registry<int> registry("head");
  registry.add("cls", [] { return 1; });
  EXPECT_THROW(registry.add("cls", [] { return 2; }), Error);
}

}  // namespace
}  // namespace must
