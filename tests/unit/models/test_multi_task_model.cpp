#include "must/models/model_config.h"
#include "must/models/fused_conv.h"
#include "must/models/multi_task_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "test_support.h"

namespace must::models {
namespace {

config::Config model_config(const std::vector<std::string>& overrides) {
  return config::Config::load(model_defaults(), "", overrides).at("model");
}

MultiTaskModelOptions student_options() {
  return model_options_from_config(model_config(
      {"model.backbone.depth=18", "model.backbone.width_multiplier=0.25", "model.fpn_channels=16",
       "model.dense_channels=8", "model.heads.classification.num_outputs=5", "model.heads.segmentation.num_outputs=7",
       "model.heads.depth.loss.type=silog", "model.heads.normals.num_convs=1",
       "model.heads.detection.num_outputs=3", "model.detection.representation=32",
       "model.detection.rpn.pre_nms_top_n_train=200", "model.detection.rpn.post_nms_top_n_train=100",
       "model.detection.rpn.pre_nms_top_n_test=100", "model.detection.rpn.post_nms_top_n_test=50",
       "model.detection.roi_heads.batch_size_per_image=64"}));
}

// The same, with the detector's samplers taking the first candidates, so that losses are a function of the weights.
MultiTaskModelOptions deterministic_student_options() {
  MultiTaskModelOptions options = student_options();
  for (auto& head : options.heads) head.rpn.random_sampling = head.roi_heads.random_sampling = false;
  return options;
}

structures::Targets full_targets(int64_t b, int64_t h, int64_t w) {
  structures::Targets targets;
  auto all = torch::ones({b}, torch::kBool);
  targets.tasks[Task::kClassification] = {torch::softmax(torch::randn({b, 5}), 1), all, {}};
  targets.tasks[Task::kSegmentation] = {torch::randint(0, 7, {b, h, w}, torch::kLong), all, {}};
  targets.tasks[Task::kDepth] = {torch::rand({b, 1, h, w}) + 0.5, all, {}};
  targets.tasks[Task::kNormals] = {torch::nn::functional::normalize(torch::randn({b, 3, h, w}),
                                                                   torch::nn::functional::NormalizeFuncOptions().dim(1)),
                                   all, {}};
  structures::TaskTargets detection{{}, all, {}};
  for (int64_t i = 0; i < b; ++i) {  // one box in the upper left quarter
    detection.instances.push_back({torch::tensor({2.0f, 3.0f, float(w) / 2, float(h) / 2}).view({1, 4}),
                                   torch::tensor({int64_t(i % 3)}), {}, {}, {}});
  }
  targets.tasks[Task::kDetection] = detection;
  return targets;
}

TEST(MultiTaskModel, PredictionsHaveTheTaskShapes) {
  MultiTaskModel model(student_options());
  model->eval();
  torch::NoGradGuard no_grad;
  const ModelOutput out = model->forward(torch::randn({2, 3, 48, 64}));
  EXPECT_EQ(out.predictions.at(Task::kClassification).sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(out.predictions.at(Task::kSegmentation).sizes(), (std::vector<int64_t>{2, 7, 48, 64}));
  EXPECT_EQ(out.predictions.at(Task::kDepth).sizes(), (std::vector<int64_t>{2, 1, 48, 64}));
  EXPECT_EQ(out.predictions.at(Task::kNormals).sizes(), (std::vector<int64_t>{2, 3, 48, 64}));
  EXPECT_TRUE(out.losses.empty());
  ASSERT_EQ(out.instances.at(Task::kDetection).size(), 2u);
  EXPECT_EQ(out.predictions.count(Task::kDetection), 0u);
  EXPECT_GT(out.predictions.at(Task::kDepth).min().item<float>(), 0.0f);  // softplus
  const auto length = out.predictions.at(Task::kNormals).norm(2, 1);
  EXPECT_TRUE(torch::allclose(length, torch::ones_like(length), 1e-5, 1e-5));
}

TEST(MultiTaskModel, FusedInferenceMatchesAndTrainUndoesIt) {
  torch::manual_seed(1);
  MultiTaskModel model(student_options());
  model->train();
  model->forward(torch::randn({4, 3, 32, 32}));  // move the batch-norm statistics away from their start
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 48, 40});
  const ModelOutput plain = model->forward(x);
  model->fuse_for_inference();
  const ModelOutput fused = model->forward(x);
  for (const auto& [task, prediction] : plain.predictions) {
    const double scale = prediction.abs().max().item<double>();
    EXPECT_LE((fused.predictions.at(task) - prediction).abs().max().item<double>(), 1e-4 * scale) << task_name(task);
  }
  if (fused_inference_available()) {  // weights written after fusing (as loading or an EMA swap would): refused
    model->parameters().front().add_(0.0);
    EXPECT_THROW(model->forward(x), Error);
  }
  model->train();
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(x).predictions.at(Task::kDepth), plain.predictions.at(Task::kDepth)));
  model->train();
  EXPECT_THROW(model->fuse_for_inference(), Error);
}

TEST(MultiTaskModel, TargetsGiveNamedLossesThatTrain) {
  torch::manual_seed(0);
  MultiTaskModel model(deterministic_student_options());
  model->train();
  const auto images = torch::randn({2, 3, 32, 32});
  const auto targets = full_targets(2, 32, 32);
  ModelOutput out = model->forward(images, &targets);
  std::vector<std::string> keys;
  for (const auto& entry : out.losses) keys.push_back(entry.first);
  EXPECT_EQ(keys, (std::vector<std::string>{"loss/classification/soft_cross_entropy", "loss/depth/silog",
                                            "loss/detection/box", "loss/detection/classifier",
                                            "loss/detection/rpn_box", "loss/detection/rpn_objectness",
                                            "loss/normals/cosine", "loss/segmentation/cross_entropy"}));
  // A few SGD steps on one batch lower the total loss: gradients reach every head and the backbone.
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  auto total = [&] {
    torch::Tensor sum = torch::zeros({});
    for (auto& entry : model->forward(images, &targets).losses) sum = sum + entry.second;
    return sum;
  };
  const double first = total().item<double>();
  for (int step = 0; step < 8; ++step) {
    optimizer.zero_grad();
    total().backward();
    optimizer.step();
  }
  EXPECT_LT(total().item<double>(), first);
  EXPECT_TRUE(model->backbone->body->named_parameters()["conv1.weight"].grad().defined());
}

// In training mode a forward with targets gives losses alone; the segmentation loss then reads the stride-4
// logits (cross_entropy_upsampled) and must equal the loss of the full-resolution prediction.
TEST(MultiTaskModel, TrainingGivesLossesOfThePredictions) {
  torch::manual_seed(0);
  MultiTaskModel model(deterministic_student_options());
  model->train();
  const auto images = torch::randn({2, 3, 40, 36});
  auto targets = full_targets(2, 40, 36);
  targets.tasks[Task::kSegmentation].values.slice(1, 0, 5).fill_(255);  // a void band
  const ModelOutput with_targets = model->forward(images, &targets);
  EXPECT_TRUE(with_targets.predictions.empty());
  EXPECT_TRUE(with_targets.instances.empty());
  const ModelOutput predictions = model->forward(images);  // training mode (batch statistics), no targets
  for (Task task : {Task::kClassification, Task::kSegmentation, Task::kDepth, Task::kNormals}) {
    HeadOptions head;
    for (const auto& h : deterministic_student_options().heads) {
      if (h.task == task) head = h;
    }
    const auto loss = losses::make_task_loss(task, head.loss);
    const auto expected = (*loss)(predictions.predictions.at(task), targets.tasks.at(task));
    ASSERT_EQ(expected.size(), 1u);
    const double value = expected.begin()->second.item<double>();
    EXPECT_NEAR(with_targets.losses.at(expected.begin()->first).item<double>(), value, 1e-5 * std::abs(value))
        << task_name(task);
  }
}

TEST(MultiTaskModel, AbsentTaskGivesNoLossTerm) {
  MultiTaskModel model(student_options());
  structures::Targets targets = full_targets(2, 32, 32);
  targets.tasks.erase(Task::kDepth);
  targets.tasks[Task::kNormals].present = torch::zeros({2}, torch::kBool);  // labelled for nobody
  const ModelOutput out = model->forward(torch::randn({2, 3, 32, 32}), &targets);
  EXPECT_EQ(out.losses.count("loss/depth/silog"), 0u);
  EXPECT_EQ(out.losses.at("loss/normals/cosine").item<double>(), 0.0);
  EXPECT_FALSE(out.losses.at("loss/normals/cosine").requires_grad());
}

TEST(MultiTaskModel, ParameterNamesFollowTorchvisionDetectors) {
  MultiTaskModel model(student_options());
  const auto names = model->named_parameters().keys();
  for (const char* expected : {"backbone.body.conv1.weight", "backbone.fpn.inner_blocks.0.0.weight",
                               "backbone.fpn.layer_blocks.3.0.bias", "dense_trunk.reduce.weight",
                               "heads.classification.fc.weight", "heads.segmentation.convs.0.weight",
                               "heads.normals.predictor.bias", "heads.detection.rpn.head.cls_logits.weight",
                               "heads.detection.roi_heads.box_head.0.0.weight",
                               "heads.detection.roi_heads.box_predictor.bbox_pred.bias"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

TEST(MultiTaskModel, ClassificationTeacherHasNoPyramid) {
  MultiTaskModel teacher(model_options_from_config(
      model_config({"model.backbone.depth=18", "model.backbone.width_multiplier=0.25",
                    "model.heads.classification.num_outputs=3"})));
  EXPECT_TRUE(teacher->backbone->fpn.is_empty());
  EXPECT_EQ(teacher->tasks(), (std::vector<Task>{Task::kClassification}));
}

TEST(MultiTaskModel, ConfigErrorsNameTheirKey) {
  auto message = [](const std::vector<std::string>& overrides) {
    try {
      model_options_from_config(model_config(overrides));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({"model.heads.depht.num_outputs=1"}).find("did you mean 'depth'"), std::string::npos);
  EXPECT_NE(message({"model.heads.depth.loss.type=cosine"}).find("loss 'cosine' does not apply to task depth"),
            std::string::npos)
      << message({"model.heads.depth.loss.type=cosine"});
  EXPECT_NE(message({"model.heads.depth.loss.type=l2"}).find("unknown loss 'l2'"), std::string::npos);
  EXPECT_NE(message({"model.backbone.depth=20", "model.heads.depth.num_convs=1"}).find("key 'model.backbone.depth'"),
            std::string::npos);
  EXPECT_NE(message({}).find("key 'model.heads': needs at least one head"), std::string::npos);
  EXPECT_THROW(MultiTaskModel(model_options_from_config(model_config({"model.heads.segmentation.num_convs=1"}))),
               ConfigError);  // segmentation needs its number of classes
}

}  // namespace
}  // namespace must::models

namespace must::models {
namespace {

// The shipped model bases resolve against the defaults and build a working model.
TEST(ModelConfigs, ShippedBasesBuild) {
  for (const char* base : {"configs/_base_/models/resnet50_fpn.yaml", "configs/_base_/models/world_small.yaml"}) {
    const auto config = config::Config::load(model_defaults(), test::source_path(base),
                                             {"model.heads.segmentation.num_outputs=7", "model.heads.depth.num_convs=1"});
    MultiTaskModel model(model_options_from_config(config.at("model")));
    model->eval();
    torch::NoGradGuard no_grad;
    const auto out = model->forward(torch::randn({1, 3, 64, 64}));
    EXPECT_EQ(out.predictions.at(Task::kSegmentation).sizes(), (std::vector<int64_t>{1, 7, 64, 64})) << base;
  }
}

}  // namespace
}  // namespace must::models
