#include "must/models/weight_import.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/models/multi_task_model.h"
#include "must/models/resnet.h"

namespace must::models {
namespace {

MultiTaskModelOptions small_model() {
  MultiTaskModelOptions options;
  options.backbone = ResNetOptions(18).width_multiplier(0.25);
  options.fpn_channels = 16;
  options.dense_channels = 8;
  HeadOptions depth;
  depth.task = Task::kDepth;
  options.heads.push_back(depth);
  return options;
}

TEST(WeightImport, BareResNetLandsInTheModelBackboneByAutoPrefix) {
  ResNet imagenet(ResNetOptions(18).width_multiplier(0.25).num_classes(1000));
  MultiTaskModel model(small_model());
  const ImportReport report = load_state_dict(*model, module_state_dict(*imagenet));
  EXPECT_EQ(report.prefix, "backbone.body.");
  EXPECT_EQ(report.unexpected, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  for (const auto& key : report.missing) EXPECT_EQ(key.rfind("backbone.body.", 0), std::string::npos) << key;
  EXPECT_FALSE(report.missing.empty());  // the FPN and the head are not in an ImageNet checkpoint
  EXPECT_TRUE(torch::equal(model->backbone->body->named_parameters()["conv1.weight"],
                           imagenet->named_parameters()["conv1.weight"]));
}

TEST(WeightImport, ShapeMismatchNamesTheKeyAndBothShapes) {
  ResNet wide(ResNetOptions(18).width_multiplier(0.5));
  ResNet narrow(ResNetOptions(18).width_multiplier(0.25));
  try {
    load_state_dict(*narrow, module_state_dict(*wide), {}, "'wide.pth'");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "'wide.pth': 'conv1.weight' has shape [32, 3, 7, 7] in the file but [16, 3, 7, 7] in the model "
              "('conv1.weight')");
  }
}

TEST(WeightImport, StrictModeFailsOnMissingOrUnexpectedKeys) {
  ResNet with_fc(ResNetOptions(18).width_multiplier(0.25).num_classes(5));
  ResNet without_fc(ResNetOptions(18).width_multiplier(0.25));
  EXPECT_NO_THROW(load_state_dict(*without_fc, module_state_dict(*with_fc)));
  EXPECT_THROW(load_state_dict(*without_fc, module_state_dict(*with_fc), {"auto", true}), Error);
  EXPECT_THROW(load_state_dict(*with_fc, module_state_dict(*without_fc), {"auto", true}), Error);
}

TEST(WeightImport, FrozenBatchNormNeedsNoCounter) {
  ResNet source(ResNetOptions(18).width_multiplier(0.25));
  StateDict without_counters;
  for (auto& [name, tensor] : module_state_dict(*source)) {
    if (name.find("num_batches_tracked") == std::string::npos) without_counters.emplace_back(name, tensor);
  }
  ResNet frozen(ResNetOptions(18).width_multiplier(0.25).frozen_batch_norm(true));
  const ImportReport report = load_state_dict(*frozen, without_counters, {"", true});
  EXPECT_TRUE(report.missing.empty());
}

}  // namespace
}  // namespace must::models
