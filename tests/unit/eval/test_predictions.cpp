// Predictions mapped back to the labels' pixels through the recorded geometry, saved and read back, and the
// report of several runs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "must/core/fs.h"
#include "must/data/image_io.h"
#include "must/data/transforms.h"
#include "must/eval/prediction_files.h"
#include "must/eval/prediction_mapping.h"
#include "must/eval/report.h"
#include "must/ops/resize.h"
#include "test_support.h"

namespace must::eval {
namespace {

// A 24 x 32 sample whose depth label is a linear ramp (bilinear sampling reproduces it exactly) and with one box.
data::Sample ramp_sample() {
  data::Sample sample;
  sample.source = "ramp";
  sample.image = torch::zeros({24, 32, 3}, torch::kUInt8);
  const torch::Tensor ys = torch::arange(24, torch::kFloat).view({24, 1}), xs = torch::arange(32, torch::kFloat).view({1, 32});
  sample.labels[Task::kDepth] = (1 + 0.1 * ys + 0.05 * xs).unsqueeze(0);
  structures::Instances boxes;
  boxes.boxes = torch::tensor({{4.0f, 6.0f, 20.0f, 18.0f}});
  boxes.labels = torch::tensor({1}, torch::kLong);
  boxes.scores = torch::tensor({0.5f});
  sample.instances = boxes;
  return sample;
}

TEST(PredictionMapping, ResizeCropAndFlipAreUndone) {
  const data::Sample original = ramp_sample();
  data::Sample sample = ramp_sample();
  data::resize_sample(sample, 48, 64);
  data::crop_sample(sample, 4, 8, 40, 48);
  data::flip_sample(sample);
  const data::Geometry& g = sample.geometry;
  EXPECT_EQ(g.original_size, (std::array<int64_t, 2>{24, 32}));
  EXPECT_FALSE(g.is_resize());
  // The transformed label, taken as a prediction, lands back on the original ramp where the crop covers it.
  const torch::Tensor back = map_to_original(sample.labels.at(Task::kDepth), g);
  ASSERT_EQ(back.sizes(), original.labels.at(Task::kDepth).sizes());
  const torch::Tensor inside = back.slice(1, 3, 21).slice(2, 5, 27), expected = original.labels.at(Task::kDepth).slice(1, 3, 21).slice(2, 5, 27);
  EXPECT_LT((inside - expected).abs().max().item<float>(), 1e-4);
  // Boxes too.
  models::ModelOutput output;
  output.instances[Task::kDetection] = {*sample.instances};
  data::Batch batch;
  batch.geometry = {g};
  const auto predictions = image_predictions(Task::kDetection, output, batch);
  ASSERT_EQ(predictions[0].detections.size(), 1u);
  const BoxXywh box = predictions[0].detections[0].box;
  EXPECT_NEAR(box.x, 4, 1e-4);
  EXPECT_NEAR(box.y, 6, 1e-4);
  EXPECT_NEAR(box.w, 16, 1e-4);
  EXPECT_NEAR(box.h, 12, 1e-4);
  EXPECT_EQ(predictions[0].detections[0].category, 1);
}

TEST(PredictionMapping, PlainResizeIsBilinearResizeToTheOriginal) {
  data::Sample sample = ramp_sample();
  data::resize_sample(sample, 37, 50);
  ASSERT_TRUE(sample.geometry.is_resize());
  const torch::Tensor map = torch::rand({4, 37, 50});
  const torch::Tensor back = map_to_original(map, sample.geometry);
  EXPECT_TRUE(torch::allclose(back, ops::resize_bilinear(map.unsqueeze(0), {24, 32})[0]));
  // The general path (sampling at the original pixel centres) agrees with the resize.
  data::Geometry shifted = sample.geometry;
  shifted.offset = {1e-12, 0};
  EXPECT_LT((map_to_original(map, shifted) - back).abs().max().item<float>(), 1e-5);
}

TEST(PredictionMapping, FlipTestTimeAugmentationUndoesTheFlip) {
  const std::vector<std::array<int64_t, 2>> sizes = {{2, 3}};
  const torch::Tensor images = torch::arange(1 * 3 * 2 * 4, torch::kFloat).view({1, 3, 2, 4});
  const torch::Tensor flipped = flip_images(images, sizes);
  EXPECT_TRUE(torch::equal(flipped[0].narrow(2, 0, 3), images[0].narrow(2, 0, 3).flip({2})));
  EXPECT_EQ(flipped[0].select(2, 3).abs().sum().item<float>(), 0);  // padding stays on the right
  // Normals: a flipped image's prediction, mirrored back, has its x negated.
  const torch::Tensor normals = torch::randn({1, 3, 2, 4});
  const torch::Tensor back = unflip_prediction(Task::kNormals, normals, sizes);
  EXPECT_TRUE(torch::allclose(back[0][0].narrow(1, 0, 3), -normals[0][0].narrow(1, 0, 3).flip({1})));
  EXPECT_TRUE(torch::allclose(back[0][1].narrow(1, 0, 3), normals[0][1].narrow(1, 0, 3).flip({1})));
  // Class scores merge as probabilities.
  const torch::Tensor a = torch::tensor({{2.0f, 0.0f}}), b = torch::tensor({{0.0f, 0.0f}});
  const torch::Tensor merged = merge_flipped(Task::kClassification, a, b).softmax(1);
  EXPECT_TRUE(torch::allclose(merged, (a.softmax(1) + b.softmax(1)) / 2));
}

// A dataset of two 3 x 4 samples with every label, for the writer and reader.
class TinyDataset final : public data::Dataset {
 public:
  explicit TinyDataset(std::vector<std::string> sources = {"tiny0", "tiny1"}) : sources_(std::move(sources)) {
    info_.name = "tiny";
    info_.tasks = {Task::kClassification, Task::kDetection, Task::kSegmentation, Task::kDepth, Task::kNormals};
    info_.class_names[Task::kClassification] = {"a", "b", "c"};
    info_.class_names[Task::kDetection] = {"a", "b"};
    info_.class_names[Task::kSegmentation] = {"a", "b", "c"};
    info_.image_ids = {42, 7};
    info_.category_ids = {3, 9};
  }
  int64_t size() const override { return 2; }
  data::Sample get(int64_t index) const override {
    data::Sample sample;
    sample.source = sources_[size_t(index)];
    sample.image = torch::zeros({3, 4, 3}, torch::kUInt8);
    return sample;
  }

 private:
  std::vector<std::string> sources_;
};

TEST(PredictionFiles, WrittenAndReadBackInStoredPrecision) {
  const TinyDataset dataset;
  must::test::ScratchDir dir;
  PredictionEncoding encoding;
  PredictionWriter writer(dir.path(), "tiny", dataset, dataset.info().tasks, encoding);
  std::map<Task, ImagePrediction> made;
  made[Task::kClassification].values = torch::tensor({2, 0, 1}, torch::kLong);
  made[Task::kClassification].scores = torch::tensor({0.5, 0.3, 0.2});
  made[Task::kDetection].detections = {{1, {1.25, 2.5, 3.0, 0.5}, 0.75}, {0, {0.1, 0.2, 0.3, 0.4}, 0.123456789012}};
  made[Task::kSegmentation].values = torch::tensor({0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0}, torch::kLong).view({3, 4});
  made[Task::kDepth].values = torch::rand({1, 3, 4}) * 10;
  made[Task::kNormals].values = torch::nn::functional::normalize(torch::randn({3, 3, 4}),
                                                                 torch::nn::functional::NormalizeFuncOptions().dim(0));
  for (const auto& [task, prediction] : made) writer.write(task, 1, "tiny1", prediction);
  writer.finish();

  const auto results = nlohmann::json::parse(read_file(dir / "detection.json"));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["image_id"], 7);
  EXPECT_EQ(results[0]["category_id"], 9);
  EXPECT_EQ(results[1]["score"].get<double>(), 0.123456789012);
  EXPECT_EQ(data::read_image(dir / "depth/000001.png").bit_depth, 16);

  const PredictionReader reader(dir.path(), dataset);
  EXPECT_EQ(reader.tasks().size(), 5u);
  for (const auto& [task, prediction] : made) {
    const ImagePrediction read = reader.read(task, 1);
    const ImagePrediction expected = in_stored_precision(task, prediction, encoding);
    if (task == Task::kDetection) {
      ASSERT_EQ(read.detections.size(), 2u);
      EXPECT_EQ(read.detections[0].box.x, 1.25);
      EXPECT_EQ(read.detections[1].score, 0.123456789012);
      EXPECT_EQ(read.detections[0].category, 1);
      continue;
    }
    EXPECT_TRUE(torch::equal(read.values, expected.values)) << task_name(task);
  }
  // Stored precision: millimetres, and 16-bit normal components.
  EXPECT_LT((in_stored_precision(Task::kDepth, made[Task::kDepth], encoding).values - made[Task::kDepth].values).abs().max().item<float>(), 0.00051);
  EXPECT_THROW(reader.read(Task::kSegmentation, 0), Error);  // never written: named
}

TEST(PredictionFiles, ResultsFileWithUnknownIdsIsRejectedNamingTheRecord) {
  const TinyDataset dataset;
  must::test::ScratchDir dir;
  write_file(dir / "results.json", R"([{"image_id": 42, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5},
                                      {"image_id": 5, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5}])");
  try {
    PredictionReader reader(dir / "results.json", dataset);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("results.json: detection 1 has image_id 5"), std::string::npos) << e.what();
  }
  write_file(dir / "results.json", R"([{"image_id": 42, "category_id": 4, "bbox": [0, 0, 1, 1], "score": 0.5}])");
  EXPECT_THROW(PredictionReader(dir / "results.json", dataset), Error);
  write_file(dir / "results.json", R"([{"image_id": 42, "category_id": 3, "bbox": [0, 0, 1], "score": 0.5}])");
  EXPECT_THROW(PredictionReader(dir / "results.json", dataset), Error);
}

// String image ids as other tools write them: the id in decimal, a file name, a stem, the end of a path; a file
// name two images share is refused naming both.
TEST(PredictionFiles, ResultsFileImageIdsMayBeStringsNamingTheImage) {
  const TinyDataset dataset({"data/val/a/x.png", "data/val/b/x.png"});
  must::test::ScratchDir dir;
  write_file(dir / "results.json", R"([{"image_id": "7", "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5},
                                      {"image_id": "a/x.png", "category_id": 3, "bbox": [0, 0, 2, 2], "score": 0.5},
                                      {"image_id": "val/b/x", "category_id": 9, "bbox": [0, 0, 3, 3], "score": 0.5}])");
  const PredictionReader reader(dir / "results.json", dataset);
  EXPECT_EQ(reader.read(Task::kDetection, 0).detections.size(), 1u);
  EXPECT_EQ(reader.read(Task::kDetection, 1).detections.size(), 2u);  // "7" is image 1's id
  write_file(dir / "results.json", R"([{"image_id": "x.png", "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5}])");
  try {
    PredictionReader ambiguous(dir / "results.json", dataset);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("detection 0: image_id \"x.png\" names more than one image: data/val/a/x.png and "
                                         "data/val/b/x.png"),
              std::string::npos)
        << e.what();
  }
}

TEST(Report, TableAndChartOfTwoRuns) {
  must::test::ScratchDir dir;
  must::test::write_text(dir / "teacher/metrics.json", R"({"world_val/depth/AbsRel": 0.12, "world_val/depth/RMSE": 0.5,
                                              "world_val/segmentation/mIoU": 61.0})");
  must::test::write_text(dir / "student/metrics.json", R"({"world_val/depth/AbsRel": 0.10, "world_val/segmentation/mIoU": 58.5,
                                              "world_val/classification/top1": null})");
  write_report(columns_of_runs({dir / "teacher", dir / "student"}), dir / "out/report.md");
  const std::string markdown = read_file(dir / "out/report.md");
  EXPECT_NE(markdown.find("| world_val/depth | AbsRel ↓ | 0.1200 | **0.1000** |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| world_val/segmentation | mIoU ↑ | **61.00** | 58.50 |"), std::string::npos) << markdown;
  EXPECT_EQ(markdown.find("RMSE"), std::string::npos);  // headline metrics only
  EXPECT_NE(markdown.find("![chart](report.png)"), std::string::npos);
  const data::ImageBuffer chart = data::read_image(dir / "out/report.png");
  EXPECT_GT(chart.height, 100);
  EXPECT_EQ(chart.channels, 3);
  EXPECT_THROW(write_report(columns_of_runs({dir / "nowhere"}), dir / "x.md"), Error);
}

TEST(Report, NamedColumnsMergeTheirRunsAndABaselineGivesDifferences) {
  must::test::ScratchDir dir;
  must::test::write_text(dir / "teachers/depth/metrics.json", R"({"world_val/depth/AbsRel": 0.12})");
  must::test::write_text(dir / "teachers/segmentation/metrics.json", R"({"world_val/segmentation/mIoU": 61.0})");
  must::test::write_text(dir / "student/metrics.json", R"({"world_val/depth/AbsRel": 0.10, "world_val/segmentation/mIoU": 58.5})");
  const ReportColumn teacher = parse_report_column("teacher=" + (dir / "teachers/depth").string() + "," +
                                                   (dir / "teachers/segmentation").string());
  EXPECT_EQ(teacher.name, "teacher");
  ASSERT_EQ(teacher.runs.size(), 2u);
  const ReportColumn student = parse_report_column("student=" + (dir / "student").string());
  write_report({teacher, student}, dir / "report.md", "teacher");
  const std::string markdown = read_file(dir / "report.md");
  EXPECT_NE(markdown.find("| dataset / task | metric | teacher | student |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| world_val/depth | AbsRel ↓ | 0.1200 | **0.1000** (-0.0200) |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| world_val/segmentation | mIoU ↑ | **61.00** | 58.50 (-2.50) |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("the difference to teacher"), std::string::npos) << markdown;

  EXPECT_THROW(write_report({teacher, student}, dir / "report.md", "nobody"), ConfigError);
  EXPECT_THROW(parse_report_column("no-equals-sign"), ConfigError);
  EXPECT_THROW(parse_report_column("name="), ConfigError);
  // Two folders of one column that disagree on a key: an error naming both.
  must::test::write_text(dir / "other/metrics.json", R"({"world_val/depth/AbsRel": 0.2})");
  try {
    read_columns({parse_report_column("both=" + (dir / "student").string() + "," + (dir / "other").string())});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("column both: world_val/depth/AbsRel is 0.1000 in"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("other"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace must::eval
