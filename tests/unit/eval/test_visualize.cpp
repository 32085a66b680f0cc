// Predictions as pictures: the panels each kind of prediction gives, and what is drawn on them.
#include "must/eval/visualize.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace must::eval {
namespace {

TEST(Visualize, OnePanelPerDenseTaskWithBoxesAndTheTopClassOnTheImage) {
  const torch::Tensor image = torch::full({32, 48, 3}, 100, torch::kUInt8);
  std::map<Task, ImagePrediction> predictions;
  predictions[Task::kClassification].values = torch::tensor({2, 0}, torch::kLong);
  predictions[Task::kClassification].scores = torch::tensor({0.75f, 0.25f});
  predictions[Task::kDetection].detections = {{1, {4, 4, 20, 12}, 0.9}, {0, {30, 20, 10, 8}, 0.2}};
  torch::Tensor classes = torch::zeros({32, 48}, torch::kLong);
  classes.narrow(1, 24, 24).fill_(1);
  predictions[Task::kSegmentation].values = classes;
  torch::Tensor depth = torch::linspace(1, 5, 48).repeat({32, 1}).unsqueeze(0);
  depth.narrow(2, 0, 4).zero_();  // invalid
  predictions[Task::kDepth].values = depth;
  torch::Tensor normals = torch::zeros({3, 32, 48});
  normals[2].fill_(1);
  predictions[Task::kNormals].values = normals;

  PictureOptions options;
  options.min_side = 64;  // 32 x 48 panels enlarged twice
  const torch::Tensor picture = prediction_picture(image, predictions, options);
  ASSERT_EQ(picture.sizes(), (std::vector<int64_t>{64, 4 * 96, 3}));  // image, segmentation, depth, normals
  // The 0.9 box of class 1 is drawn (its colour on its left edge, x = 8 once enlarged), the 0.2 box (x = 60) is not.
  EXPECT_TRUE(torch::equal(picture[20][8].to(torch::kInt), torch::tensor({60, 180, 75}, torch::kInt))) << picture[20][8];
  EXPECT_TRUE(torch::equal(picture[50][60].to(torch::kInt), torch::tensor({100, 100, 100}, torch::kInt)));
  // Segmentation: half image, half class colour (class 0 red-ish 230, 25, 75 at the left).
  const torch::Tensor blended = picture[30][96 + 10].to(torch::kInt);
  EXPECT_NEAR(blended[0].item<int>(), (100 + 230) / 2, 1);
  // Depth: invalid columns black; near (left) and far (right) take different colours.
  EXPECT_TRUE(torch::equal(picture[30][2 * 96 + 2].to(torch::kInt), torch::zeros({3}, torch::kInt)));
  EXPECT_FALSE(torch::equal(picture[30][2 * 96 + 12], picture[30][2 * 96 + 90]));
  // Normals (0, 0, 1): RGB (128, 128, 255) (rounded (n + 1) / 2 x 255).
  EXPECT_TRUE(torch::equal(picture[30][3 * 96 + 40].to(torch::kInt), torch::tensor({128, 128, 255}, torch::kInt)));
}

TEST(Visualize, ContactSheetLaysThumbnailsOnAGrid) {
  std::vector<torch::Tensor> thumbnails;
  for (int i = 0; i < 5; ++i) thumbnails.push_back(thumbnail(torch::full({64, 96, 3}, 40 * i, torch::kUInt8), 32));
  EXPECT_EQ(thumbnails[0].sizes(), (std::vector<int64_t>{32, 48, 3}));
  const torch::Tensor sheet = contact_sheet(thumbnails, 2);
  EXPECT_EQ(sheet.sizes(), (std::vector<int64_t>{4 + 3 * 36, 4 + 2 * 52, 3}));  // 3 rows, 2 columns, 4-pixel gaps
  EXPECT_EQ(sheet[4 + 36 + 5][4 + 52 + 5][0].item<int>(), 120);                 // the 4th thumbnail
  EXPECT_EQ(sheet[4 + 72 + 5][4 + 52 + 5][0].item<int>(), 255);                 // no 6th: white
}

}  // namespace
}  // namespace must::eval
