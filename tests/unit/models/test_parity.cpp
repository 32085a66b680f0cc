// Parity with torchvision on the same random weights, generated at test time by tests/parity/make_fixtures.py
// with Debian's python3-torchvision (installed by scripts/setup.sh).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/models/fpn.h"
#include "must/models/resnet.h"
#include "must/models/multi_task_model.h"
#include "must/models/roi_heads.h"
#include "must/models/rpn.h"
#include "must/models/state_dict_file.h"
#include "must/models/weight_import.h"
#include "parity.h"

namespace must::models {
namespace {

using test::expect_close;
using test::make_fixture;

std::map<std::string, torch::Tensor> as_map(const StateDict& tensors) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, tensor] : tensors) out[name] = tensor;
  return out;
}

void resnet_parity(int depth) {
  test::ScratchDir dir;
  make_fixture("resnet " + std::to_string(depth), dir.path());
  ResNet model(ResNetOptions(depth).num_classes(10));
  const auto report = load_state_dict(*model, read_state_dict(dir / "model.pth"), {"", /*strict=*/true, /*only=*/{}});
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.unexpected.empty());
  const auto io = as_map(read_state_dict(dir / "io.pth"));
  torch::NoGradGuard no_grad;
  model->eval();
  expect_close(model->forward(io.at("input")), io.at("eval_logits"), 1e-4, "eval logits");
  // Batch norm folded into oneDNN convolutions computes the same function.
  model->fuse_for_inference();
  expect_close(model->forward(io.at("input")), io.at("eval_logits"), 1e-4, "fused eval logits");
  model->train();  // drops the fused copies
  expect_close(model->forward(io.at("input")), io.at("train_logits"), 1e-4, "train-mode logits");
  // Channels-last computes the same function.
  ResNet nhwc(ResNetOptions(depth).num_classes(10).channels_last(true));
  load_state_dict(*nhwc, read_state_dict(dir / "model.pth"), {"", /*strict=*/true, /*only=*/{}});
  nhwc->eval();
  expect_close(nhwc->forward(io.at("input")), io.at("eval_logits"), 1e-4, "channels-last eval logits");
}

TEST(Parity, ResNet18MatchesTorchvision) { resnet_parity(18); }
TEST(Parity, ResNet50MatchesTorchvision) { resnet_parity(50); }

TEST(Parity, FpnMatchesTorchvisionWithLastLevelMaxPool) {
  test::ScratchDir dir;
  make_fixture("fpn", dir.path());
  const auto io = as_map(read_state_dict(dir / "io.pth"));
  FpnOptions options;
  const std::vector<int64_t> channels = {16, 32, 64, 128};
  structures::FeatureMap inputs;
  for (int i = 0; i < 4; ++i) {
    const std::string name = "res" + std::to_string(i + 2);
    options.in_features.push_back({name, channels[size_t(i)], int64_t(4) << i});
    inputs.add(name, io.at("in." + name), int64_t(4) << i);
  }
  options.out_channels = 32;
  Fpn fpn(options);
  load_state_dict(*fpn, read_state_dict(dir / "model.pth"), {"", /*strict=*/true, /*only=*/{}});
  torch::NoGradGuard no_grad;
  const structures::FeatureMap out = fpn->forward(inputs);
  ASSERT_EQ(out.names(), (std::vector<std::string>{"p2", "p3", "p4", "p5", "p6"}));
  for (int i = 0; i < 4; ++i) {
    expect_close(out.at("p" + std::to_string(i + 2)), io.at("out.res" + std::to_string(i + 2)), 1e-5, "level " + std::to_string(i));
  }
  expect_close(out.at("p6"), io.at("out.pool"), 1e-5, "pool level");
  EXPECT_EQ(out.stride("p6"), 64);
  fpn->eval();
  fpn->fuse_for_inference();
  const structures::FeatureMap fused = fpn->forward(inputs);
  for (int i = 0; i < 4; ++i) {
    expect_close(fused.at("p" + std::to_string(i + 2)), io.at("out.res" + std::to_string(i + 2)), 1e-5, "fused level");
  }
}

TEST(Parity, RpnProposalsMatchTorchvisionInEvalMode) {
  test::ScratchDir dir;
  make_fixture("rpn", dir.path());
  const auto io = as_map(read_state_dict(dir / "io.pth"));
  RpnOptions options;
  options.in_channels = 8;
  options.pre_nms_top_n_test = 300;
  options.post_nms_top_n_test = 200;
  RegionProposalNetwork rpn(options);
  load_state_dict(*rpn->head, read_state_dict(dir / "model.pth"), {"", /*strict=*/true, /*only=*/{}});
  rpn->eval();
  std::vector<torch::Tensor> levels;
  for (int l = 2; l <= 6; ++l) levels.push_back(io.at("in.p" + std::to_string(l)));
  torch::NoGradGuard no_grad;
  const RpnOutput proposals = rpn->forward(levels, {128, 160}, {{120, 150}, {128, 100}});
  for (int i = 0; i < 2; ++i) {
    const auto& expected = io.at("boxes." + std::to_string(i));
    ASSERT_EQ(proposals.boxes[size_t(i)].sizes(), expected.sizes()) << "image " << i;
    EXPECT_GT(expected.size(0), 50);
    EXPECT_LE((proposals.boxes[size_t(i)] - expected).abs().max().item<double>(), 0.01) << "image " << i;
  }
}

// The whole fasterrcnn_resnet50_fpn (2fc head) in eval mode, stage by stage on the same normalised batch.
TEST(Parity, FasterRcnnResNet50FpnMatchesTorchvisionInEvalMode) {
  test::ScratchDir dir;
  make_fixture("fasterrcnn", dir.path());
  const auto io = as_map(read_state_dict(dir / "io.pth"));
  torch::nn::Module detector;
  auto backbone = detector.register_module("backbone", BackboneWithFpn(ResNetOptions(50).frozen_batch_norm(true), 256, true));
  auto rpn = detector.register_module("rpn", RegionProposalNetwork(RpnOptions()));
  RoiHeadsOptions heads_options;
  heads_options.num_classes = 11;
  heads_options.score_threshold = 0.0;  // random weights give near-uniform class scores
  heads_options.inference_chunk = 50;   // each image's proposals pooled and classified in several chunks
  auto heads = detector.register_module("roi_heads", RoiHeads(heads_options));
  const auto report = load_state_dict(detector, read_state_dict(dir / "model.pth"), {"", /*strict=*/true, /*only=*/{}});
  EXPECT_TRUE(report.unexpected.empty());
  detector.eval();
  torch::NoGradGuard no_grad;
  const structures::FeatureMap pyramid = backbone->fpn->forward(backbone->body->forward_features(io.at("input")));
  const std::vector<std::array<int64_t, 2>> sizes = {{120, 150}, {128, 100}};
  const RpnOutput proposals = rpn->forward(pyramid.tensors(), {128, 160}, sizes);
  std::vector<torch::Tensor> fpn_levels(pyramid.tensors().begin(), pyramid.tensors().begin() + 4);  // p2..p5
  const Detections detections = heads->forward(fpn_levels, proposals.boxes, {128, 160}, sizes).detections;
  EXPECT_GT(proposals.boxes[0].size(0), 2 * heads_options.inference_chunk);
  for (size_t i = 0; i < 2; ++i) {
    const std::string tag = std::to_string(i);
    ASSERT_EQ(proposals.boxes[i].sizes(), io.at("proposals." + tag).sizes()) << "image " << i;
    EXPECT_LE((proposals.boxes[i] - io.at("proposals." + tag)).abs().max().item<double>(), 0.01);
    EXPECT_GE(detections.boxes[i].size(0), 20);
    test::expect_same_detections(detections.boxes[i], detections.scores[i], detections.labels[i],
                                 io.at("boxes." + tag), io.at("scores." + tag), io.at("labels." + tag), 0.01, 1e-4,
                                 "image " + tag);
  }
}

TEST(StateDictFile, PickledModuleIsRejectedWithItsClassNamed) {
  test::ScratchDir dir;
  make_fixture("pickled_module", dir.path());
  try {
    read_state_dict(dir / "module.pth");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("torch.nn.modules.linear.Linear"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("state_dict()"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace must::models
