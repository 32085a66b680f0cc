// Faster R-CNN training and the detection head of the multi-task model. Parity references come from
// Debian's python3-torchvision at test time (tests/parity/make_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/models/detection_head.h"
#include "must/models/model_config.h"
#include "must/models/multi_task_model.h"
#include "must/models/weight_import.h"
#include "parity.h"

namespace must::models {
namespace {

using test::expect_close;
using test::make_fixture;
using test::read_tensors;

void expect_loss(const losses::LossDict& ours, const std::string& key, const torch::Tensor& reference) {
  ASSERT_TRUE(ours.count(key)) << key;
  const double expected = reference.item<double>(), actual = ours.at(key).item<double>();
  EXPECT_NEAR(actual, expected, 1e-4 * std::abs(expected) + 1e-6) << key;
}

// torchvision's FasterRCNN training losses on the same weights, batch and targets, with both samplers taking
// the first candidates in index order (torch.randperm replaced by arange there, random_sampling off here).
TEST(DetectionParity, TrainingLossesMatchTorchvisionWithDeterministicSamplers) {
  test::ScratchDir dir;
  make_fixture("fasterrcnn_train", dir.path());
  const auto io = read_tensors(dir / "io.pth");
  torch::nn::Module detector;
  auto backbone = detector.register_module("backbone", BackboneWithFpn(ResNetOptions(50).frozen_batch_norm(true), 256, true));
  RpnOptions rpn_options;
  rpn_options.random_sampling = false;
  auto rpn = detector.register_module("rpn", RegionProposalNetwork(rpn_options));
  RoiHeadsOptions heads_options;
  heads_options.num_classes = 11;
  heads_options.random_sampling = false;
  auto heads = detector.register_module("roi_heads", RoiHeads(heads_options));
  load_state_dict(detector, read_state_dict(dir / "model.pth"), {"", /*strict=*/true, /*only=*/{}});
  detector.train();

  std::vector<structures::Instances> targets(2);
  for (size_t i = 0; i < 2; ++i) {
    targets[i].boxes = io.at("boxes." + std::to_string(i));
    targets[i].labels = io.at("labels." + std::to_string(i));  // torchvision's: 1.. with 0 the background
  }
  const structures::FeatureMap pyramid = backbone->fpn->forward(backbone->body->forward_features(io.at("input")));
  const std::vector<std::array<int64_t, 2>> sizes = {{120, 150}, {128, 100}};
  RpnOutput rpn_out = rpn->forward(pyramid.tensors(), {128, 160}, sizes, &targets);
  expect_loss(rpn_out.losses, "loss/detection/rpn_objectness", io.at("loss.loss_objectness"));
  expect_loss(rpn_out.losses, "loss/detection/rpn_box", io.at("loss.loss_rpn_box_reg"));
  std::vector<torch::Tensor> reference_proposals;
  for (size_t i = 0; i < 2; ++i) {
    const auto& expected = io.at("proposals." + std::to_string(i));
    // Same count. Not compared box by box: with these random weights many objectness logits saturate the
    // float sigmoid at exactly 1, and NMS breaks such ties in an arbitrary order; the RoI losses below, which
    // depend on the proposal set, compare them instead.
    EXPECT_EQ(rpn_out.boxes[i].sizes(), expected.sizes()) << "training proposals of image " << i;
    reference_proposals.push_back(expected);
  }
  const std::vector<torch::Tensor> levels(pyramid.tensors().begin(), pyramid.tensors().begin() + 4);
  // Our own proposals and torchvision's give the same sampled set, hence the same losses.
  for (const std::vector<torch::Tensor>* proposals : {&rpn_out.boxes, &reference_proposals}) {
    const RoiHeadsOutput out = heads->forward(levels, *proposals, {128, 160}, sizes, &targets);
    EXPECT_TRUE(out.detections.boxes.empty());
    expect_loss(out.losses, "loss/detection/classifier", io.at("loss.loss_classifier"));
    expect_loss(out.losses, "loss/detection/box", io.at("loss.loss_box_reg"));
  }
  // The losses train: gradients reach the RPN head, the box head and the backbone.
  torch::Tensor total = torch::zeros({});
  for (const auto& entry : rpn_out.losses) total = total + entry.second;
  for (const auto& entry : heads->forward(levels, rpn_out.boxes, {128, 160}, sizes, &targets).losses) {
    total = total + entry.second;
  }
  total.backward();
  for (const char* name : {"rpn.head.cls_logits.weight", "roi_heads.box_head.fc6.weight",
                           "roi_heads.box_predictor.bbox_pred.weight", "backbone.fpn.layer_blocks.0.0.weight"}) {
    const auto grad = detector.named_parameters()[name].grad();
    ASSERT_TRUE(grad.defined()) << name;
    EXPECT_GT(grad.abs().sum().item<double>(), 0) << name;
  }
}

// The paper's 4conv1fc box head is torchvision's FastRCNNConvFCHead (fasterrcnn_resnet50_fpn_v2): same names,
// same function.
TEST(DetectionParity, ConvFcBoxHeadMatchesTorchvision) {
  test::ScratchDir dir;
  make_fixture("convfc_head", dir.path());
  const auto io = read_tensors(dir / "io.pth");
  RoiHeadsOptions options;
  options.box_head = "4conv1fc";
  options.in_channels = 16;
  options.conv_channels = 16;
  options.representation = 32;
  auto head = make_box_head(options);
  const auto report = load_state_dict(*head, read_state_dict(dir / "model.pth"), {"", /*strict=*/true, /*only=*/{}});
  EXPECT_TRUE(report.missing.empty());
  head->eval();
  torch::NoGradGuard no_grad;
  expect_close(head->forward(io.at("input")), io.at("output"), 1e-5, "4conv1fc");
  EXPECT_EQ(head->out_features(), 32);
}

config::Config detection_config(std::vector<std::string> overrides) {
  overrides.insert(overrides.begin(), {"model.heads.detection.num_outputs=10", "model.detection.box_head=2fc"});
  return config::Config::load(model_defaults(), "", overrides).at("model");
}

// A torchvision fasterrcnn_resnet50_fpn checkpoint loads into the multi-task model with a detection head (its
// rpn.* and roi_heads.* land under heads.detection), and the model detects what torchvision does.
TEST(DetectionHead, TorchvisionDetectorImportsAndDetectsTheSame) {
  test::ScratchDir dir;
  make_fixture("fasterrcnn", dir.path());
  const auto io = read_tensors(dir / "io.pth");
  MultiTaskModel model(model_options_from_config(detection_config(
      {"model.backbone.frozen_batch_norm=true", "model.detection.roi_heads.score_threshold=0.0"})));
  const auto report = load_state_dict(*model, read_state_dict(dir / "model.pth"), {"auto", /*strict=*/true, /*only=*/{}});
  EXPECT_EQ(report.prefix, "");
  model->eval();
  torch::NoGradGuard no_grad;
  const ModelOutput out = model->forward(io.at("input"), nullptr, {{120, 150}, {128, 100}});
  const auto& detections = out.instances.at(Task::kDetection);
  ASSERT_EQ(detections.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const std::string tag = std::to_string(i);
    test::expect_same_detections(detections[i].boxes, detections[i].scores, detections[i].labels + 1,  // ours: 0-based
                                 io.at("boxes." + tag), io.at("scores." + tag), io.at("labels." + tag), 0.01, 1e-4,
                                 "image " + tag);
  }
}

MultiTaskModelOptions small_detector(bool random_sampling) {
  MultiTaskModelOptions options = model_options_from_config(detection_config(
      {"model.backbone.depth=18", "model.backbone.width_multiplier=0.25", "model.backbone.frozen_batch_norm=true",
       "model.fpn_channels=16", "model.detection.box_head=4conv1fc", "model.detection.rpn.pre_nms_top_n_train=300",
       "model.detection.rpn.post_nms_top_n_train=100", "model.detection.roi_heads.batch_size_per_image=64"}));
  options.heads[0].rpn.random_sampling = random_sampling;
  options.heads[0].roi_heads.random_sampling = random_sampling;
  return options;
}

structures::Instances instances(std::vector<float> boxes, std::vector<int64_t> labels, std::vector<bool> ignore = {}) {
  structures::Instances out;
  out.boxes = torch::tensor(boxes).view({-1, 4});
  out.labels = torch::tensor(labels, torch::kLong);
  if (!ignore.empty()) {
    out.ignore = torch::zeros({int64_t(ignore.size())}, torch::kBool);
    for (size_t i = 0; i < ignore.size(); ++i) out.ignore[int64_t(i)] = bool(ignore[i]);
  }
  return out;
}

structures::TaskTargets detection_targets(std::vector<structures::Instances> per_image, std::vector<bool> present) {
  structures::TaskTargets targets;
  targets.present = torch::zeros({int64_t(present.size())}, torch::kBool);
  for (size_t i = 0; i < present.size(); ++i) targets.present[int64_t(i)] = bool(present[i]);
  targets.instances = std::move(per_image);
  return targets;
}

// A sample without detection labels adds nothing: the losses equal those of the labelled sample alone.
TEST(DetectionHead, UnlabelledSamplesTakeNoPartInTheLosses) {
  torch::manual_seed(0);
  MultiTaskModel model(small_detector(/*random_sampling=*/false));
  model->train();
  const auto images = torch::randn({2, 3, 64, 64});
  const auto labelled = instances({4, 8, 40, 50, 30, 20, 60, 60}, {2, 7});
  structures::Targets both, alone, nobody;
  both.tasks[Task::kDetection] = detection_targets({labelled, {}}, {true, false});
  alone.tasks[Task::kDetection] = detection_targets({labelled}, {true});
  nobody.tasks[Task::kDetection] = detection_targets({labelled, labelled}, {false, false});
  const ModelOutput with_both = model->forward(images, &both);
  const ModelOutput with_one = model->forward(images.narrow(0, 0, 1), &alone);
  ASSERT_EQ(with_both.losses.size(), 4u);
  for (const auto& [key, value] : with_one.losses) {
    EXPECT_NEAR(with_both.losses.at(key).item<double>(), value.item<double>(), 1e-5) << key;
  }
  EXPECT_TRUE(model->forward(images, &nobody).losses.empty());
}

// An image whose only box is an ignore region has no positives: no box loss, only background.
TEST(DetectionHead, IgnoreRegionsAreNeitherPositiveNorNegative) {
  torch::manual_seed(0);
  MultiTaskModel model(small_detector(false));
  model->train();
  structures::Targets targets;
  targets.tasks[Task::kDetection] = detection_targets({instances({4, 8, 40, 50}, {2}, {true})}, {true});
  const ModelOutput out = model->forward(torch::randn({1, 3, 64, 64}), &targets);
  EXPECT_EQ(out.losses.at("loss/detection/rpn_box").item<double>(), 0.0);
  EXPECT_EQ(out.losses.at("loss/detection/box").item<double>(), 0.0);
  EXPECT_GT(out.losses.at("loss/detection/classifier").item<double>(), 0.0);
  EXPECT_GT(out.losses.at("loss/detection/rpn_objectness").item<double>(), 0.0);
}

TEST(DetectionHead, LearnsToFindABoxOnAFixedBatch) {
  torch::manual_seed(0);
  MultiTaskModel model(small_detector(true));
  model->train();
  const auto images = torch::randn({2, 3, 64, 64});
  structures::Targets targets;
  targets.tasks[Task::kDetection] =
      detection_targets({instances({4, 8, 40, 50}, {2}), instances({20, 10, 60, 44, 0, 0, 16, 16}, {5, 9})}, {true, true});
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.02).momentum(0.9));
  auto total = [&] {
    torch::Tensor sum = torch::zeros({});
    for (auto& entry : model->forward(images, &targets).losses) sum = sum + entry.second;
    return sum;
  };
  const double first = total().item<double>();
  for (int step = 0; step < 20; ++step) {
    optimizer.zero_grad();
    total().backward();
    optimizer.step();
  }
  EXPECT_LT(total().item<double>(), 0.7 * first);
  model->eval();
  torch::NoGradGuard no_grad;
  const ModelOutput out = model->forward(images, nullptr, {{64, 64}, {50, 60}});
  const auto& detections = out.instances.at(Task::kDetection);
  ASSERT_EQ(detections.size(), 2u);
  for (const auto& d : detections) {
    EXPECT_EQ(d.boxes.size(1), 4);
    EXPECT_EQ(d.scores.size(0), d.boxes.size(0));
    if (d.size()) {
      EXPECT_GE(d.labels.min().item<int64_t>(), 0);
      EXPECT_LT(d.labels.max().item<int64_t>(), 10);
    }
  }
  if (detections[1].size()) {  // clipped to the second image's own size
    EXPECT_LE(detections[1].boxes.select(1, 2).max().item<float>(), 60.0f);
    EXPECT_LE(detections[1].boxes.select(1, 3).max().item<float>(), 50.0f);
  }
}

TEST(DetectionHead, BadTargetsNameTheSample) {
  MultiTaskModel model(small_detector(false));
  model->train();
  auto message = [&](structures::Instances bad) {
    structures::Targets targets;
    targets.tasks[Task::kDetection] = detection_targets({instances({1, 1, 9, 9}, {0}), bad}, {true, true});
    try {
      model->forward(torch::randn({2, 3, 32, 32}), &targets);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(instances({1, 1, 9, 9}, {10})).find("sample 1: labels must lie in [0, 10)"), std::string::npos);
  EXPECT_NE(message(instances({9, 1, 1, 9}, {3})).find("sample 1: every box needs positive width"), std::string::npos);
}

TEST(DetectionHead, ConfigErrorsNameTheirKey) {
  auto message = [](const std::vector<std::string>& overrides) {
    try {
      model_options_from_config(detection_config(overrides));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({"model.detection.box_head=3fc"}).find("model.detection.box_head"), std::string::npos);
  EXPECT_NE(message({"model.detection.anchor_sizes=[32, 64]"}).find("one size per level"), std::string::npos);
  EXPECT_NE(message({"model.heads.detection.loss.type=l1"}).find("model.heads.detection.loss.type"), std::string::npos);
  EXPECT_NE(message({"model.detection.rpn.positive_fraction=1.5"}).find("positive_fraction"), std::string::npos);
}

}  // namespace
}  // namespace must::models
