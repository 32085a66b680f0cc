#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/ops/anchor_generator.h"
#include "must/ops/box_coder.h"
#include "must/ops/boxes.h"
#include "must/ops/nms.h"
#include "must/ops/resize.h"
#include "must/ops/roi_align.h"
#include "parity.h"

namespace must::ops {
namespace {

TEST(Boxes, IouHandComputed) {
  const auto a = torch::tensor({{0.0, 0.0, 2.0, 2.0}, {0.0, 0.0, 0.0, 5.0}});
  const auto b = torch::tensor({{1.0, 1.0, 3.0, 3.0}, {0.0, 0.0, 2.0, 2.0}, {5.0, 5.0, 6.0, 6.0}});
  const auto iou = box_iou(a, b);
  EXPECT_NEAR(iou[0][0].item<double>(), 1.0 / 7, 1e-7);  // intersection 1, union 4 + 4 - 1
  EXPECT_NEAR(iou[0][1].item<double>(), 1.0, 1e-7);
  EXPECT_EQ(iou[0][2].item<double>(), 0.0);
  EXPECT_EQ(iou[1][1].item<double>(), 0.0);  // a degenerate box overlaps nothing
  EXPECT_TRUE(torch::equal(box_area(b), torch::tensor({4.0f, 4.0f, 1.0f})));
  EXPECT_THROW(box_iou(torch::zeros({3, 5}), b), Error);
}

TEST(Nms, GreedyByScoreWithStrictThreshold) {
  // Box 1 overlaps box 0 with IoU exactly 0.5: kept at threshold 0.5 (only IoU > threshold suppresses).
  const auto boxes = torch::tensor({{0.0, 0.0, 2.0, 2.0}, {0.0, 0.0, 2.0, 1.0}, {0.0, 0.0, 2.0, 1.9}, {5.0, 5.0, 6.0, 6.0}});
  const auto scores = torch::tensor({0.9, 0.8, 0.7, 0.1});
  EXPECT_TRUE(torch::equal(nms(boxes, scores, 0.5), torch::tensor({0, 1, 3}, torch::kLong)));
  EXPECT_TRUE(torch::equal(nms(boxes, scores, 0.49), torch::tensor({0, 3}, torch::kLong)));
  EXPECT_EQ(nms(torch::zeros({0, 4}), torch::zeros({0}), 0.5).numel(), 0);
  // Per class: the same boxes in two classes do not suppress each other.
  const auto kept = batched_nms(boxes, scores, torch::tensor({0, 1, 0, 0}, torch::kLong), 0.49);
  EXPECT_TRUE(torch::equal(kept, torch::tensor({0, 1, 3}, torch::kLong)));
}

TEST(RoiAlign, ConstantMapGivesTheConstantInsideAndCountsOutsideSamplesAsZero) {
  const auto x = torch::full({1, 2, 8, 8}, 3.0);
  const auto inside = roi_align(x, torch::tensor({{0.0, 1.0, 1.0, 5.0, 5.0}}), 1.0, 2, 2, 2, false);
  EXPECT_TRUE(torch::allclose(inside, torch::full({1, 2, 2, 2}, 3.0)));
  // A box straddling the map's far side (width 8): samples with x > 8 count as zeros in the average.
  const auto edge = roi_align(x, torch::tensor({{0.0, 6.0, 0.0, 12.0, 2.0}}), 1.0, 1, 2, 2, false);
  EXPECT_NEAR(edge[0][0][0][0].item<double>(), 1.5, 1e-6);  // samples at x = 6.75 (inside) and 8.25 (outside)
  EXPECT_NEAR(edge[0][0][0][1].item<double>(), 0.0, 1e-6);  // samples at x = 9.75 and 11.25
}

TEST(Nms, TheGpuAlgorithmsKeepWhatTheCpuKernelKeeps) {
  // Coordinates on a quarter-pixel grid: exact in float, shifted by class too, so the IoUs of every algorithm agree
  // to the bit. 1,001 boxes: the packed overlap rows end in a partial byte.
  torch::manual_seed(0);
  const auto corner = torch::randint(0, 200, {1001, 2}).to(torch::kFloat) / 4;
  const auto size = torch::randint(4, 60, {1001, 2}).to(torch::kFloat) / 4;
  const auto boxes = torch::cat({corner, corner + size}, 1);
  const auto scores = torch::rand({1001});
  const auto classes = torch::randint(0, 3, {1001}, torch::kLong);
  for (double threshold : {0.3, 0.5, 0.7}) {
    const auto reference = nms(boxes, scores, threshold);
    EXPECT_GT(reference.size(0), 10);
    EXPECT_LT(reference.size(0), 1001);
    EXPECT_TRUE(torch::equal(detail::nms_over_overlap_bits(boxes, scores, threshold), reference)) << threshold;
    EXPECT_TRUE(torch::equal(detail::batched_nms_per_class(boxes, scores, classes, threshold),
                             batched_nms(boxes, scores, classes, threshold)))
        << threshold;
  }
}

// Autocast's reduced precision (a GPU run's bf16): box coordinates stay float32 through decoding and RoI Align.
TEST(BoxCoder, DecodesBf16DeltasIntoFloat32Boxes) {
  torch::manual_seed(0);
  const auto boxes = torch::tensor({{400.3f, 300.7f, 470.9f, 380.2f}, {10.1f, 250.6f, 37.3f, 509.4f}});
  const auto deltas = (torch::randn({2, 8}) * 0.1).to(torch::kBFloat16);
  const BoxCoder coder({10, 10, 5, 5});
  const auto decoded = coder.decode(deltas, boxes);
  ASSERT_EQ(decoded.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(decoded, coder.decode(deltas.to(torch::kFloat), boxes)));
}

TEST(RoiAlign, Bf16FeaturesAreSampledAtFloat32Positions) {
  // A map that changes fast along x, far from the origin: bf16 positions (2 px apart there) would move the
  // samples by up to a pixel, and the values by up to ~0.5; float32 positions leave only bf16's rounding of the
  // map and of the result.
  const auto x = torch::arange(512, torch::kFloat).mul(0.5).sin().view({1, 1, 1, 512}).expand({1, 2, 4, 512});
  const auto rois = torch::tensor({{0.0f, 400.3f, 0.5f, 410.7f, 3.5f}, {0.0f, 301.1f, 0.0f, 311.9f, 2.0f}});
  const auto reference = roi_align(x, rois, 1.0, 2, 4, 2, true);
  const auto reduced = roi_align(x.to(torch::kBFloat16).requires_grad_(), rois, 1.0, 2, 4, 2, true);
  ASSERT_EQ(reduced.scalar_type(), torch::kBFloat16);
  EXPECT_LT((reduced.to(torch::kFloat) - reference).abs().max().item<float>(), 0.02);
}

class OpsParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir();
    test::make_fixture("ops", dir_->path());
    io_ = new std::map<std::string, torch::Tensor>(test::read_tensors(dir_->path() / "io.pth"));
  }
  static void TearDownTestSuite() {
    delete io_;
    delete dir_;
  }
  static const torch::Tensor& at(const std::string& key) { return io_->at(key); }
  static test::ScratchDir* dir_;
  static std::map<std::string, torch::Tensor>* io_;
};
test::ScratchDir* OpsParity::dir_ = nullptr;
std::map<std::string, torch::Tensor>* OpsParity::io_ = nullptr;

TEST_F(OpsParity, NmsKeepsTheSameIndicesAsTorchvision) {
  for (const char* t : {"0.3", "0.5", "0.7"}) {
    const auto keep = nms(at("nms.boxes"), at("nms.scores"), std::stod(t));
    EXPECT_TRUE(torch::equal(keep, at(std::string("nms.keep.") + t))) << "threshold " << t;
  }
}

TEST_F(OpsParity, RoiAlignOutputsAndInputGradientsMatchTorchvision) {
  for (int aligned : {0, 1}) {
    for (int ratio : {2, -1}) {
      const std::string tag = std::to_string(aligned) + "." + std::to_string(ratio);
      const auto x = at("roi.input").clone().requires_grad_();
      const auto y = roi_align(x, at("roi.rois"), 0.25, 5, 4, ratio, aligned == 1);
      test::expect_close(y, at("roi.out." + tag), 0, "output " + tag, 1e-5);
      const auto grad = torch::autograd::grad({(y * at("roi.upstream")).sum()}, {x})[0];
      test::expect_close(grad, at("roi.grad." + tag), 0, "input gradient " + tag, 1e-5);
      // Without gradients the direct CPU kernel runs instead of the differentiable gathers: the same output.
      torch::NoGradGuard no_grad;
      test::expect_close(roi_align(at("roi.input"), at("roi.rois"), 0.25, 5, 4, ratio, aligned == 1),
                         at("roi.out." + tag), 0, "inference output " + tag, 1e-5);
    }
  }
}

TEST_F(OpsParity, AnchorsMatchTorchvision) {
  const AnchorGenerator fpn_anchors;
  std::vector<torch::Tensor> maps;
  for (int level = 2; level <= 6; ++level) maps.push_back(torch::zeros({1, 1, 64 >> level, 96 >> level}));
  EXPECT_TRUE(torch::equal(fpn_anchors(maps, {64, 96}).to(torch::kFloat), at("anchors")));
  EXPECT_EQ(fpn_anchors.anchors_per_location(0), 3);
  AnchorGeneratorOptions odd;
  odd.sizes = {{16, 40}};
  odd.aspect_ratios = {{0.7, 1.3}};
  EXPECT_TRUE(torch::equal(AnchorGenerator(odd)({torch::zeros({1, 1, 7, 9})}, {50, 70}).to(torch::kFloat),
                           at("anchors.odd")));
}

TEST_F(OpsParity, MultiScaleRoiAlignMatchesTorchvision) {
  std::vector<torch::Tensor> features;
  for (int level = 2; level <= 5; ++level) {
    features.push_back(at("ms.feature.p" + std::to_string(level)).clone().requires_grad_());
  }
  const auto y = multi_scale_roi_align(features, {at("ms.boxes.0"), at("ms.boxes.1")}, {64, 96});
  test::expect_close(y, at("ms.out"), 0, "output", 1e-5);
  {
    torch::NoGradGuard no_grad;  // the direct kernel
    test::expect_close(multi_scale_roi_align(features, {at("ms.boxes.0"), at("ms.boxes.1")}, {64, 96}), at("ms.out"), 0,
                       "inference output", 1e-5);
  }
  const auto grads = torch::autograd::grad({(y * at("ms.upstream")).sum()}, features, {}, false, false,
                                          /*allow_unused=*/true);
  for (int level = 2; level <= 5; ++level) {
    const auto& grad = grads[size_t(level - 2)];  // undefined for a level no box was assigned to
    test::expect_close(grad.defined() ? grad : torch::zeros_like(features[size_t(level - 2)]),
                       at("ms.grad.p" + std::to_string(level)), 0, "gradient p" + std::to_string(level), 1e-5);
  }
}

}  // namespace
}  // namespace must::ops

namespace must::ops {
namespace {

// Without autograd our kernel runs; it must give ATen's upsample_bilinear2d (align_corners = false).
TEST(ResizeBilinear, MatchesATenUpAndDown) {
  torch::manual_seed(0);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{2, 3, 7, 9}, {30, 37}}, {{1, 150, 14, 14}, {56, 56}}, {{2, 4, 20, 16}, {7, 5}}, {{1, 1, 1, 1}, {3, 4}}};
  for (const auto& [shape, size] : cases) {
    const auto x = torch::randn(shape);
    const auto expected = torch::upsample_bilinear2d(x, size, false);
    torch::NoGradGuard no_grad;
    const auto ours = resize_bilinear(x, size);
    EXPECT_EQ(ours.sizes(), expected.sizes());
    EXPECT_LE((ours - expected).abs().max().item<double>(), 1e-5 * expected.abs().max().item<double>()) << shape;
  }
}

TEST(ResizeBilinear, KeepsAutogradAndSameSizeInput) {
  const auto x = torch::randn({1, 2, 3, 3}, torch::requires_grad());
  const auto y = resize_bilinear(x, {6, 6});
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_NEAR(x.grad().sum().item<double>(), 72.0, 1e-4);  // each output spreads weight 1 over its sources
  EXPECT_TRUE(resize_bilinear(x, {3, 3}).is_same(x));
}

}  // namespace
}  // namespace must::ops
