#include "must/models/weight_import.h"

#include <gtest/gtest.h>
#include <algorithm>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/models/batch_norm.h"
#include "must/models/multi_task_model.h"
#include "must/models/resnet.h"
#include "test_support.h"

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

TEST(WeightImport, OnlyFillsTheNamedPrefixesAndLeavesTheRestOut) {
  // A student's backbone into a model whose head differs (the fine-tuning protocol): the heads are left out,
  // never a shape error, and only backbone keys can be missing.
  MultiTaskModelOptions student_options = small_model();
  student_options.heads[0].task = Task::kSegmentation;
  student_options.heads[0].num_outputs = 7;
  MultiTaskModel student(student_options);
  MultiTaskModelOptions target_options = small_model();
  target_options.heads[0].task = Task::kSegmentation;
  target_options.heads[0].num_outputs = 3;
  MultiTaskModel target(target_options);
  EXPECT_THROW(load_state_dict(*target, module_state_dict(*student)), Error);  // the heads' shapes differ
  ImportOptions only_backbone;
  only_backbone.only = {"backbone."};
  const ImportReport report = load_state_dict(*target, module_state_dict(*student), only_backbone);
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.unexpected.empty());
  ASSERT_FALSE(report.left_out.empty());
  for (const auto& key : report.left_out) EXPECT_EQ(key.rfind("backbone.", 0), std::string::npos) << key;
  for (const auto& key : report.loaded) EXPECT_EQ(key.rfind("backbone.", 0), 0u) << key;
  EXPECT_TRUE(torch::equal(target->backbone->fpn->named_parameters().begin()->value(),
                           student->backbone->fpn->named_parameters().begin()->value()));
}

TEST(FrozenModules, StopLearningAndFreezeTheirBatchNorms) {
  MultiTaskModelOptions options = small_model();
  options.frozen_modules = {"backbone"};
  MultiTaskModel model(options);
  for (const auto& item : model->named_parameters()) {
    EXPECT_EQ(item.value().requires_grad(), item.key().rfind("backbone.", 0) != 0) << item.key();
  }
  int frozen_norms = 0;
  for (const auto& child : model->backbone->modules()) {
    if (auto* norm = child->as<BatchNorm2d>()) frozen_norms += norm->frozen() ? 1 : -1000;
  }
  EXPECT_GT(frozen_norms, 0);
  options.frozen_modules = {"backbone.fpn"};
  MultiTaskModel fpn_only(options);
  EXPECT_TRUE(fpn_only->backbone->body->named_parameters()["conv1.weight"].requires_grad());
  EXPECT_FALSE(fpn_only->backbone->fpn->named_parameters().begin()->value().requires_grad());
  options.frozen_modules = {"trunk"};
  try {
    MultiTaskModel wrong(options);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.frozen_modules: 'trunk' is not a submodule"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("backbone.fpn"), std::string::npos) << e.what();
  }
}

// A model of ours with one head of `task` (`outputs` classes), and its state dict renamed to torchvision's layout:
// a classifier's backbone at the top level and `fc.*`; a detector's `backbone.*` with `rpn.*` and `roi_heads.*`.
MultiTaskModel model_with_head(Task task, int64_t outputs) {
  MultiTaskModelOptions options = small_model();
  options.heads[0].task = task;
  options.heads[0].num_outputs = outputs;
  return MultiTaskModel(options);
}

StateDict in_torchvision_layout(const StateDict& ours, Task task) {
  const std::vector<std::string> moved = task == Task::kClassification
                                             ? std::vector<std::string>{"backbone.body.", "heads.classification."}
                                             : std::vector<std::string>{"heads.detection."};
  StateDict renamed;
  for (const auto& [name, tensor] : ours) {
    std::string theirs = name;
    for (const std::string& from : moved) {
      if (name.rfind(from, 0) == 0) theirs = name.substr(from.size());
    }
    renamed.emplace_back(theirs, tensor);
  }
  return renamed;
}

bool has_key(const StateDict& tensors, const std::string& name) {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& entry) { return entry.first == name; });
}

TEST(WeightImport, TorchvisionClassifiersAndDetectorsLoadAsTheyAre) {
  for (const auto& [task, outputs] : {std::pair{Task::kClassification, 10}, std::pair{Task::kDetection, 4}}) {
    MultiTaskModel source = model_with_head(task, outputs), target = model_with_head(task, outputs);
    const StateDict theirs = in_torchvision_layout(module_state_dict(*source), task);
    EXPECT_TRUE(has_key(theirs, task == Task::kClassification ? "fc.bias" : "roi_heads.box_predictor.cls_score.bias"));
    EXPECT_TRUE(has_key(theirs, task == Task::kClassification ? "layer4.1.bn2.weight" : "backbone.body.layer4.1.bn2.weight"));
    const ImportReport report = load_state_dict(*target, theirs, {});
    EXPECT_TRUE(report.missing.empty()) << task_name(task) << ": " << key_groups(report.missing);
    EXPECT_TRUE(report.unexpected.empty()) << task_name(task) << ": " << key_groups(report.unexpected);
    const auto expected = module_state_dict(*source);
    const auto loaded = module_state_dict(*target);
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(torch::equal(expected[i].second, loaded[i].second)) << expected[i].first;
    }
  }
  // Only the classifier's last layer renamed, the backbone in torchvision's names: each key finds its place.
  MultiTaskModel source = model_with_head(Task::kClassification, 10), target = model_with_head(Task::kClassification, 10);
  StateDict mixed = in_torchvision_layout(module_state_dict(*source), Task::kClassification);
  for (auto& [name, tensor] : mixed) {
    if (name.rfind("fc.", 0) == 0) name = "heads.classification." + name;
  }
  const ImportReport report = load_state_dict(*target, mixed, {});
  EXPECT_TRUE(report.missing.empty()) << key_groups(report.missing);
  EXPECT_TRUE(report.unexpected.empty()) << key_groups(report.unexpected);
}

TEST(WeightImport, AnImageNetClassifierOverAHeadOfOtherClassesSkipsItsLastLayerAndEvaluationSaysWhy) {
  MultiTaskModel imagenet = model_with_head(Task::kClassification, 1000), flowers = model_with_head(Task::kClassification, 102);
  const StateDict theirs = in_torchvision_layout(module_state_dict(*imagenet), Task::kClassification);
  const ImportReport report = load_state_dict(*flowers, theirs, {});  // a fine-tune's init: no error
  EXPECT_EQ(report.skipped, (std::vector<std::string>{"fc.weight [1000, 128] -> heads.classification.fc.weight [102, 128]",
                                                      "fc.bias [1000] -> heads.classification.fc.bias [102]"}));
  EXPECT_EQ(report.missing, (std::vector<std::string>{"heads.classification.fc.bias", "heads.classification.fc.weight"}));
  test::ScratchDir dir;
  write_safetensors(dir / "imagenet.safetensors", theirs);
  try {  // evaluation needs every tensor: the message shows both sides and the mapping tried
    load_complete_weights(*flowers, dir / "imagenet.safetensors");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("2 model tensor(s) are not in the file"), std::string::npos) << message;
    EXPECT_NE(message.find("The file's keys: bn1 (5), conv1 (1), fc (2), layer1"), std::string::npos) << message;
    EXPECT_NE(message.find("The model's: backbone.body (100), heads.classification (2)"), std::string::npos) << message;
    EXPECT_NE(message.find("else under the prefix 'backbone.body.', else torchvision's places (fc. -> "
                           "heads.classification.fc."),
              std::string::npos)
        << message;
  }
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
  EXPECT_THROW(load_state_dict(*without_fc, module_state_dict(*with_fc), {"auto", true, {}}), Error);
  EXPECT_THROW(load_state_dict(*with_fc, module_state_dict(*without_fc), {"auto", true, {}}), Error);
}

TEST(WeightImport, FrozenBatchNormNeedsNoCounter) {
  ResNet source(ResNetOptions(18).width_multiplier(0.25));
  StateDict without_counters;
  for (auto& [name, tensor] : module_state_dict(*source)) {
    if (name.find("num_batches_tracked") == std::string::npos) without_counters.emplace_back(name, tensor);
  }
  ResNet frozen(ResNetOptions(18).width_multiplier(0.25).frozen_batch_norm(true));
  const ImportReport report = load_state_dict(*frozen, without_counters, {"", true, {}});
  EXPECT_TRUE(report.missing.empty());
}

}  // namespace
}  // namespace must::models
