#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/data/decode.h"
#include <opencv2/imgcodecs.hpp>

#include "must/data/transforms.h"
#include "parity.h"

namespace must::data {
namespace {

// A sample with every kind of label: image, class map, depth (left columns invalid), normals, boxes.
Sample full_sample(int64_t h = 20, int64_t w = 30) {
  torch::manual_seed(0);
  Sample s;
  s.source = "synthetic";
  s.image = torch::randint(0, 256, {h, w, 3}, torch::kUInt8);
  s.labels[Task::kClassification] = torch::tensor({0.0f, 1.0f});
  s.labels[Task::kSegmentation] = torch::randint(0, 4, {h, w}, torch::kLong);
  torch::Tensor depth = torch::rand({1, h, w}) + 1;
  depth.narrow(2, 0, w / 3).zero_();
  s.labels[Task::kDepth] = depth;
  s.labels[Task::kNormals] = torch::nn::functional::normalize(torch::randn({3, h, w}),
                                                             torch::nn::functional::NormalizeFuncOptions().dim(0));
  s.instances = structures::Instances{torch::tensor({1.0f, 2.0f, 10.0f, 12.0f, 20.0f, 5.0f, 29.0f, 19.0f}).view({2, 4}),
                                      torch::tensor({0, 1}, torch::kLong), {}, torch::tensor({false, true}), {}};
  return s;
}

TEST(Transforms, FlipTwiceIsIdentityForEveryTarget) {
  const Sample original = full_sample();
  Sample s = full_sample();
  flip_sample(s);
  EXPECT_FALSE(torch::equal(s.image, original.image));
  flip_sample(s);
  EXPECT_TRUE(torch::equal(s.image, original.image));
  for (const auto& [task, label] : original.labels) EXPECT_TRUE(torch::equal(s.labels.at(task), label)) << task_name(task);
  EXPECT_TRUE(torch::equal(s.instances->boxes, original.instances->boxes));
}

TEST(Transforms, FlipMirrorsBoxesAndNegatesNormalsX) {
  const Sample original = full_sample();
  Sample s = full_sample();
  flip_sample(s);
  const torch::Tensor& n = s.labels.at(Task::kNormals);
  const torch::Tensor mirrored = original.labels.at(Task::kNormals).flip({2});
  EXPECT_TRUE(torch::equal(n[0], -mirrored[0]));
  EXPECT_TRUE(torch::equal(n.narrow(0, 1, 2), mirrored.narrow(0, 1, 2)));
  EXPECT_TRUE(torch::equal(s.labels.at(Task::kSegmentation), original.labels.at(Task::kSegmentation).flip({1})));
  // x1' = W - x2, x2' = W - x1.
  EXPECT_TRUE(torch::equal(s.instances->boxes[0], torch::tensor({20.0f, 2.0f, 29.0f, 12.0f})));
  EXPECT_TRUE(torch::equal(s.labels.at(Task::kClassification), original.labels.at(Task::kClassification)));
}

TEST(Transforms, CropKeepsBoxesInsideAndDropsEmptyOnes) {
  Sample s = full_sample();
  crop_sample(s, 4, 0, 10, 15);  // the second box (x 20..29) falls outside
  ASSERT_EQ(s.instances->size(), 1);
  EXPECT_TRUE(torch::equal(s.instances->boxes[0], torch::tensor({1.0f, 0.0f, 10.0f, 8.0f})));
  EXPECT_TRUE(torch::equal(s.instances->labels, torch::tensor({0}, torch::kLong)));
  EXPECT_TRUE(torch::equal(s.instances->ignore, torch::tensor({false})));
  EXPECT_EQ(s.labels.at(Task::kDepth).sizes(), (std::vector<int64_t>{1, 10, 15}));
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{10, 15, 3}));
  std::mt19937_64 rng(1);
  for (int i = 0; i < 20; ++i) {  // random crops: every box inside the window
    Sample r = full_sample();
    RandomCrop(12, 12).apply(r, rng);
    if (r.instances->size() == 0) continue;
    EXPECT_GE(r.instances->boxes.min().item<float>(), 0.0f);
    EXPECT_LE(r.instances->boxes.max().item<float>(), 12.0f);
    EXPECT_TRUE((r.instances->boxes.select(1, 2) > r.instances->boxes.select(1, 0)).all().item<bool>());
  }
}

TEST(Transforms, ResizeIsNearestForClassesAndNeverMixesInvalidDepth) {
  Sample s = full_sample();
  const auto classes_before = std::get<0>(torch::_unique(s.labels.at(Task::kSegmentation)));
  resize_sample(s, 37, 53);
  const auto classes_after = std::get<0>(torch::_unique(s.labels.at(Task::kSegmentation)));
  EXPECT_TRUE(torch::isin(classes_after, classes_before).all().item<bool>());
  const torch::Tensor depth = s.labels.at(Task::kDepth);
  EXPECT_EQ(depth.sizes(), (std::vector<int64_t>{1, 37, 53}));
  EXPECT_TRUE((depth.eq(0) | depth.ge(1)).all().item<bool>());  // valid in [1, 2]; never a blend with 0
  const torch::Tensor normals = s.labels.at(Task::kNormals);
  const torch::Tensor length = normals.norm(2, 0);
  EXPECT_TRUE(((length - 1).abs() < 1e-4).all().item<bool>());
  EXPECT_TRUE(torch::allclose(s.instances->boxes[0], torch::tensor({1.0f * 53 / 30, 2.0f * 37 / 20, 10.0f * 53 / 30, 12.0f * 37 / 20})));
  // Shrinking with invalid regions: pixels next to the invalid band become invalid, not mixed.
  Sample small = full_sample();
  resize_sample(small, 7, 11);
  const torch::Tensor d = small.labels.at(Task::kDepth);
  EXPECT_TRUE((d.eq(0) | d.ge(1)).all().item<bool>());
}

TEST(Transforms, NormalizeGivesChannelsFirstFloats) {
  Sample s;
  s.image = torch::tensor({0, 128, 255}, torch::kUInt8).view({1, 1, 3}).expand({2, 2, 3}).contiguous();
  std::mt19937_64 rng(0);
  Normalize({0.5f, 0.5f, 0.5f}, {0.5f, 0.25f, 1.0f}).apply(s, rng);
  ASSERT_EQ(s.image.sizes(), (std::vector<int64_t>{3, 2, 2}));
  EXPECT_FLOAT_EQ(s.image[0][0][0].item<float>(), -1.0f);
  EXPECT_NEAR(s.image[1][1][1].item<float>(), (128.0f / 255 - 0.5f) / 0.25f, 1e-6);
  EXPECT_FLOAT_EQ(s.image[2][0][1].item<float>(), 0.5f);
}

TEST(Transforms, RandomResizedCropOfAnEncodedJpegMatchesTheFullDecode) {
  // A smooth 400x300 JPEG: decoded at 1/2 or 1/4 DCT scale (the window is large) or in full, then cropped and
  // resized, the crops agree closely.
  auto y = torch::arange(300, torch::kFloat).view({300, 1, 1}), x = torch::arange(400, torch::kFloat).view({1, 400, 1});
  const torch::Tensor rgb =
      (torch::cat({(x / 400 * 255).expand({300, 400, 1}), (y / 300 * 255).expand({300, 400, 1}),
                   ((x + y) / 700 * 255).expand({300, 400, 1})}, 2)).to(torch::kUInt8).contiguous();
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", cv::Mat(300, 400, CV_8UC3, rgb.data_ptr<uint8_t>()), jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  Sample encoded, plain;
  encoded.encoded.assign(jpeg.begin(), jpeg.end());
  plain.image = decode_rgb(encoded.encoded, "full");  // the same JPEG decoded at full scale
  std::mt19937_64 a(5), b(5);
  RandomResizedCrop(64).apply(encoded, a);
  RandomResizedCrop(64).apply(plain, b);
  ASSERT_EQ(encoded.image.sizes(), (std::vector<int64_t>{64, 64, 3}));
  EXPECT_LE((encoded.image.to(torch::kFloat) - plain.image.to(torch::kFloat)).abs().mean().item<float>(), 2.0f);
}

TEST(Transforms, ScaleJitterAndShortSideKeepTheAspect) {
  std::mt19937_64 rng(3);
  Sample s = full_sample(40, 80);
  ResizeShortSide({20}, 1000).apply(s, rng);
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{20, 40, 3}));
  Sample capped = full_sample(40, 80);
  ResizeShortSide({20}, 30).apply(capped, rng);
  EXPECT_EQ(capped.image.sizes(), (std::vector<int64_t>{15, 30, 3}));
  Sample jittered = full_sample(40, 80);
  ScaleJitter(100, 0.5, 1.5).apply(jittered, rng);
  EXPECT_NEAR(double(jittered.image.size(1)) / double(jittered.image.size(0)), 2.0, 0.1);
  EXPECT_EQ(jittered.labels.at(Task::kSegmentation).size(1), jittered.image.size(1));
}

// torchvision's evaluation transform on odd-sized uint8 images (shrinking, growing, portrait), against torchvision
// itself (tests/parity/make_fixtures.py resize): the resize equals Resize(antialias=True) on the tensor, is within
// one grey level of PIL's, and CenterCrop cuts the same window.
TEST(Transforms, TorchvisionResizeAndCenterCropMatchTorchvision) {
  test::ScratchDir dir;
  test::make_fixture("resize", dir.path());
  const auto io = test::read_tensors(dir / "io.pth");
  std::mt19937_64 rng(0);
  for (int i = 0; i < 4; ++i) {
    const std::string tag = std::to_string(i);
    const auto request = io.at("request." + tag);
    const int64_t size = request[0].item<int64_t>(), crop_h = request[1].item<int64_t>(), crop_w = request[2].item<int64_t>();
    Sample s;
    s.source = "image " + tag;
    s.image = io.at("image." + tag).clone();
    TorchvisionResize(size, 0).apply(s, rng);
    ASSERT_EQ(s.image.sizes(), io.at("tensor." + tag).sizes()) << tag;
    EXPECT_TRUE(torch::equal(s.image, io.at("tensor." + tag))) << tag;
    const torch::Tensor from_pil = (s.image.to(torch::kInt) - io.at("pil." + tag).to(torch::kInt)).abs();
    EXPECT_LE(from_pil.max().item<int64_t>(), 1) << tag;
    CenterCrop(crop_h, crop_w).apply(s, rng);
    EXPECT_TRUE(torch::equal(s.image, io.at("crop." + tag))) << tag;
  }
  // The size rule: int(size * long / short), then the cap on the longer side.
  EXPECT_EQ(TorchvisionResize(256, 0).output_size(375, 500), (std::array<int64_t, 2>{256, 341}));
  EXPECT_EQ(TorchvisionResize(256, 300).output_size(375, 500), (std::array<int64_t, 2>{225, 300}));
  EXPECT_EQ(TorchvisionResize(224, 0).output_size(640, 480), (std::array<int64_t, 2>{298, 224}));
  Sample small;
  small.source = "small.png";
  small.image = torch::zeros({20, 30, 3}, torch::kUInt8);
  try {
    CenterCrop(24, 24).apply(small, rng);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("small.png: center_crop 24x24 is larger than the 20x30 image"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace must::data
