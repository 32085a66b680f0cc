#include "must/models/resnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"

namespace must::models {
namespace {

TEST(ResNet, FeatureNamesShapesAndStrides) {
  ResNet r50(ResNetOptions(50).width_multiplier(0.25));
  const auto shapes = r50->output_shape();
  ASSERT_EQ(shapes.size(), 4u);
  EXPECT_EQ(shapes[0].name, "res2");
  EXPECT_EQ(shapes[0].channels, 64);  // 16 * 4 (bottleneck expansion)
  EXPECT_EQ(shapes[3].channels, 512);
  EXPECT_EQ(shapes[3].stride, 32);
  torch::NoGradGuard no_grad;
  r50->eval();
  const auto features = r50->forward_features(torch::randn({1, 3, 64, 96}));
  EXPECT_EQ(features.names(), (std::vector<std::string>{"res2", "res3", "res4", "res5"}));
  EXPECT_EQ(features.at("res2").sizes(), (std::vector<int64_t>{1, 64, 16, 24}));
  EXPECT_EQ(features.at("res5").sizes(), (std::vector<int64_t>{1, 512, 2, 3}));
}

TEST(ResNet, TorchvisionParameterNames) {
  ResNet r18(ResNetOptions(18).num_classes(10));
  const auto names = r18->named_parameters().keys();
  for (const char* expected : {"conv1.weight", "bn1.weight", "layer1.0.conv2.weight", "layer2.0.downsample.0.weight",
                               "layer2.0.downsample.1.bias", "fc.weight"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_TRUE(r18->named_buffers().contains("layer4.1.bn2.running_var"));
  // ResNet-18 has 11,181,642 parameters with a 10-class head (torchvision: 11,689,512 with 1000 classes).
  int64_t count = 0;
  for (const auto& p : r18->parameters()) count += p.numel();
  EXPECT_EQ(count, 11689512 - 513000 + 5130);
}

TEST(ResNet, FreezeAtFreezesStemAndStagesAndTheirBatchNorm) {
  ResNet r(ResNetOptions(18).width_multiplier(0.25).freeze_at(2));
  for (const auto& item : r->named_parameters()) {
    const bool frozen = item.key().rfind("conv1", 0) == 0 || item.key().rfind("bn1", 0) == 0 ||
                        item.key().rfind("layer1.", 0) == 0;
    EXPECT_EQ(item.value().requires_grad(), !frozen) << item.key();
  }
  // Frozen batch norm keeps its running statistics in training mode.
  r->train();
  const auto before = r->named_buffers()["layer1.0.bn1.running_mean"].clone();
  r->forward_features(torch::randn({2, 3, 32, 32}));
  EXPECT_TRUE(torch::equal(before, r->named_buffers()["layer1.0.bn1.running_mean"]));
  EXPECT_FALSE(torch::equal(torch::zeros_like(before), r->named_buffers()["layer2.0.bn1.running_mean"]));
}

TEST(ResNet, BadOptionsAreRejected) {
  EXPECT_THROW(ResNet(ResNetOptions(20)), ConfigError);
  EXPECT_THROW(ResNet(ResNetOptions(18).width_multiplier(0)), Error);
  EXPECT_THROW(ResNet(ResNetOptions(18).freeze_at(6)), Error);
  ResNet no_fc(ResNetOptions(18).width_multiplier(0.25));
  EXPECT_THROW(no_fc->forward(torch::randn({1, 3, 32, 32})), Error);
}

}  // namespace
}  // namespace must::models
