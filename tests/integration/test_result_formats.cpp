// `must_eval score --predictions-format`: each benchmark's ground truth, written in each official result format,
// scores perfectly; a file in the other space of the same benchmark is refused with a message naming the flag
// that reads it; a folder of PNGs is never read in a guessed space. The datasets are the format-exact fixtures of
// tests/data/make_data_fixtures.py.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "must/core/fs.h"
#include "must/data/decode.h"
#include "must/data/image_io.h"
#include "test_support.h"

namespace must {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class ResultFormats : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir();
    test::copy_cached_fixtures("data", test::source_path("tests/data/make_data_fixtures.py"), data());
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path data() { return dir_->path() / "data"; }
  static fs::path root() { return dir_->path(); }

  // `must_eval score` of `predictions` against a dataset (a YAML flow mapping of data.eval) for `task`.
  static test::CommandResult score(const std::string& dataset, const std::string& task, const fs::path& predictions,
                                   const std::string& format, const std::string& run,
                                   const std::string& detection_metric = "voc2007") {
    const fs::path config = root() / (run + ".yaml");
    write_file(config, "data:\n  eval: " + dataset + "\nevaluation: {name: bench, tasks: [" + task +
                           "], detection: {metric: " + detection_metric + "}}\n");
    return test::run_command(test::tool_path("must_eval") + " score --config " + config.string() + " --predictions " +
                             predictions.string() + (format.empty() ? "" : " --predictions-format " + format) +
                             " --output-dir " + (root() / run).string());
  }
  static double metric(const std::string& run, const std::string& key) {
    return nlohmann::json::parse(read_file(root() / run / "metrics.json")).at("bench/" + key).get<double>();
  }
  // A copy of a label PNG with each value v replaced by remap(v), 8-bit gray.
  static void write_remapped(const fs::path& from, const fs::path& to, const std::function<int64_t(int64_t)>& remap) {
    const torch::Tensor values = data::read_png_samples(from).to(torch::kLong).contiguous();
    torch::Tensor out = torch::empty(values.sizes(), torch::kUInt8);
    for (int64_t i = 0; i < values.numel(); ++i)
      out.data_ptr<uint8_t>()[i] = uint8_t(remap(values.data_ptr<int64_t>()[i]));
    fs::create_directories(to.parent_path());
    data::write_png(to, out.data_ptr(), int(values.size(0)), int(values.size(1)), 1, 8);
  }
  static test::ScratchDir* dir_;
};
test::ScratchDir* ResultFormats::dir_ = nullptr;

TEST_F(ResultFormats, CityscapesLabelIdsAndTrainIds) {
  const std::string dataset = "{format: cityscapes, root: " + (data() / "cityscapes").string() + ", split: val}";
  const fs::path truth = data() / "cityscapes/gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png";
  // Official: labelIds, named <city>_<seq>_<frame>*.png, in a city subfolder.
  const fs::path label_ids = root() / "city_label_ids";
  fs::create_directories(label_ids / "lindau");
  fs::copy_file(truth, label_ids / "lindau" / truth.filename());
  const auto official = score(dataset, "segmentation", label_ids, "cityscapes-labelids", "city_official");
  ASSERT_EQ(official.exit_code, 0) << official.output;
  EXPECT_DOUBLE_EQ(metric("city_official", "segmentation/mIoU"), 100.0);
  // trainIds (void 255), named after the image: class-png.
  const int label_id_of_train_id[19] = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33};
  const fs::path train_ids = root() / "city_train_ids";
  write_remapped(truth, train_ids / "lindau_000000_000019_leftImg8bit.png", [&](int64_t id) {
    for (int64_t k = 0; k < 19; ++k) {
      if (label_id_of_train_id[k] == id) return k;
    }
    return int64_t(255);
  });
  const auto trained = score(dataset, "segmentation", train_ids, "class-png", "city_train_ids");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_DOUBLE_EQ(metric("city_train_ids", "segmentation/mIoU"), 100.0);
  // Each in the other's space: refused, naming the flag that reads it.
  const auto label_ids_as_train_ids = score(dataset, "segmentation", label_ids, "class-png", "city_wrong_1");
  EXPECT_NE(label_ids_as_train_ids.exit_code, 0);
  EXPECT_TRUE(contains(label_ids_as_train_ids.output, "--predictions-format cityscapes-labelids"))
      << label_ids_as_train_ids.output;
  const auto train_ids_as_label_ids = score(dataset, "segmentation", train_ids, "cityscapes-labelids", "city_wrong_2");
  EXPECT_NE(train_ids_as_label_ids.exit_code, 0);
  EXPECT_TRUE(contains(train_ids_as_label_ids.output, "value 255")) << train_ids_as_label_ids.output;
  EXPECT_TRUE(contains(train_ids_as_label_ids.output, "--predictions-format class-png"))
      << train_ids_as_label_ids.output;
  // Without the flag a folder of PNGs is not guessed.
  const auto unsaid = score(dataset, "segmentation", label_ids, "", "city_unsaid");
  EXPECT_NE(unsaid.exit_code, 0);
  EXPECT_TRUE(contains(unsaid.output, "holds no predictions.json")) << unsaid.output;
  EXPECT_TRUE(contains(unsaid.output, "--predictions-format cityscapes-labelids")) << unsaid.output;
}

TEST_F(ResultFormats, Ade20kOneBasedAndZeroBased) {
  const std::string dataset =
      "{format: ade20k, root: " + (data() / "ADEChallengeData2016").string() + ", split: validation}";
  // The fixture's labels run 0..151; 151 is no ADE20K class (void, as 0 is): an official file holds 0 there.
  const fs::path truth = data() / "ADEChallengeData2016/annotations/validation/ADE_train_00000001.png";
  const fs::path one_based = root() / "ade_one_based", zero_based = root() / "ade_zero_based";
  write_remapped(truth, one_based / truth.filename(), [](int64_t v) { return v == 151 ? 0 : v; });
  write_remapped(truth, zero_based / truth.filename(), [](int64_t v) { return v == 0 || v == 151 ? 255 : v - 1; });
  const auto official = score(dataset, "segmentation", one_based, "ade20k", "ade_official");
  ASSERT_EQ(official.exit_code, 0) << official.output;
  EXPECT_DOUBLE_EQ(metric("ade_official", "segmentation/mIoU"), 100.0);
  const auto zero = score(dataset, "segmentation", zero_based, "class-png", "ade_zero");
  ASSERT_EQ(zero.exit_code, 0) << zero.output;
  EXPECT_DOUBLE_EQ(metric("ade_zero", "segmentation/mIoU"), 100.0);
  const auto one_as_zero = score(dataset, "segmentation", one_based, "class-png", "ade_wrong_1");
  EXPECT_NE(one_as_zero.exit_code, 0);
  EXPECT_TRUE(contains(one_as_zero.output, "value 150")) << one_as_zero.output;
  EXPECT_TRUE(contains(one_as_zero.output, "--predictions-format ade20k")) << one_as_zero.output;
  const auto zero_as_one = score(dataset, "segmentation", zero_based, "ade20k", "ade_wrong_2");
  EXPECT_NE(zero_as_one.exit_code, 0);
  EXPECT_TRUE(contains(zero_as_one.output, "--predictions-format class-png")) << zero_as_one.output;
  // A format of another benchmark is refused naming this one's.
  const auto other = score(dataset, "segmentation", one_based, "cityscapes-labelids", "ade_other");
  EXPECT_NE(other.exit_code, 0);
  EXPECT_TRUE(contains(other.output, "--predictions-format ade20k")) << other.output;
}

TEST_F(ResultFormats, VocSegmentationDevkitPngs) {
  const std::string dataset =
      "{format: voc_segmentation, root: " + (data() / "VOCdevkit/VOC2007").string() + ", split: train}";
  const fs::path official = root() / "voc_seg";
  fs::create_directories(official);
  for (const char* id : {"000001", "000002"}) {
    fs::copy_file(data() / "VOCdevkit/VOC2007/SegmentationClass" / (std::string(id) + ".png"),
                  official / (std::string(id) + ".png"));
  }
  const auto scored = score(dataset, "segmentation", official, "class-png", "voc_seg");
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  EXPECT_DOUBLE_EQ(metric("voc_seg", "segmentation/mIoU"), 100.0);
  // The palette's colours saved as RGB are not class indices.
  const fs::path colours = root() / "voc_seg_rgb";
  fs::create_directories(colours);
  const uint8_t pixels[3 * 2] = {128, 0, 0, 0, 128, 0};
  data::write_png(colours / "000001.png", pixels, 1, 2, 3, 8);
  fs::copy_file(official / "000002.png", colours / "000002.png");
  const auto rgb = score(dataset, "segmentation", colours, "class-png", "voc_seg_rgb");
  EXPECT_NE(rgb.exit_code, 0);
  EXPECT_TRUE(contains(rgb.output, "one channel")) << rgb.output;
  // An image without its prediction is an error naming it.
  fs::remove(colours / "000001.png");
  const auto missing = score(dataset, "segmentation", colours, "class-png", "voc_seg_missing");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(contains(missing.output, "no prediction for image")) << missing.output;
}

TEST_F(ResultFormats, VocDevkitDetectionFiles) {
  const std::string dataset =
      "{format: voc_detection, root: " + (data() / "VOCdevkit/VOC2007").string() + ", split: train}";
  // The fixture's annotation XML corners (make_data_fixtures.py), the devkit's 1-based inclusive pixels; the
  // difficult person is an ignore region, so detecting it costs nothing.
  const fs::path official = root() / "voc_det";
  fs::create_directories(official);
  write_file(official / "comp4_det_test_dog.txt", "000001 0.9 1 2 20 25\n");
  write_file(official / "comp4_det_test_person.txt", "000001 0.8 15 5 40 30\n");
  write_file(official / "comp4_det_test_car.txt", "000002 0.7 3 4 36 24\n000002 0.1 20 20 30 23\n");
  const auto scored = score(dataset, "detection", official, "voc-det", "voc_det");
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  EXPECT_DOUBLE_EQ(metric("voc_det", "detection/AP"), 100.0);  // the low-scored false car ranks below the true one
  // Off by one pixel (0-based corners read as the devkit's): no longer perfect at IoU 0.95.
  write_file(official / "comp4_det_test_car.txt", "000002 0.7 2 3 35 23\n");
  const auto shifted = score(dataset, "detection", official, "voc-det", "voc_det_shifted");
  ASSERT_EQ(shifted.exit_code, 0) << shifted.output;
  EXPECT_LT(metric("voc_det_shifted", "detection/AP"), 100.0);
  // A COCO results file is read by the default format, not as devkit files; a line of the wrong shape names itself.
  write_file(root() / "coco.json", "[]");
  const auto coco = score(dataset, "detection", root() / "coco.json", "voc-det", "voc_det_coco");
  EXPECT_NE(coco.exit_code, 0);
  EXPECT_TRUE(contains(coco.output, "--predictions-format must")) << coco.output;
  write_file(official / "comp4_det_test_car.txt", "000002 0.7 3 4 36\n");
  const auto bad = score(dataset, "detection", official, "voc-det", "voc_det_bad");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(contains(bad.output, "comp4_det_test_car.txt:1")) << bad.output;
  const auto unsaid = score(dataset, "detection", official, "", "voc_det_unsaid");
  EXPECT_NE(unsaid.exit_code, 0);
  EXPECT_TRUE(contains(unsaid.output, "--predictions-format voc-det")) << unsaid.output;
}

TEST_F(ResultFormats, CocoResultsNamingImagesByFile) {
  const fs::path coco = data() / "coco";
  const std::string dataset =
      "{format: coco, root: " + coco.string() + ", annotations: " + (coco / "instances.json").string() + "}";
  // The fixture's two boxes (the crowd box is an ignore region), image_id as a file name and as a path end.
  write_file(root() / "coco_results.json",
             R"([{"image_id": "000000000001.jpg", "category_id": 18, "bbox": [2.5, 3, 10, 8], "score": 0.9},
                 {"image_id": "images/000000000002", "category_id": 90, "bbox": [5, 5, 4, 4], "score": 0.8}])");
  const auto scored = score(dataset, "detection", root() / "coco_results.json", "", "coco", "coco");
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  EXPECT_DOUBLE_EQ(metric("coco", "detection/AP"), 100.0);
  // Class indices where COCO's category ids belong: refused, naming the record and the id.
  write_file(root() / "coco_indices.json",
             R"([{"image_id": 1, "category_id": 1, "bbox": [2.5, 3, 10, 8], "score": 0.9},
                 {"image_id": 2, "category_id": 2, "bbox": [5, 5, 4, 4], "score": 0.8}])");
  const auto indices = score(dataset, "detection", root() / "coco_indices.json", "", "coco_indices", "coco");
  EXPECT_NE(indices.exit_code, 0);
  EXPECT_TRUE(contains(indices.output, "detection 1 has category_id 2")) << indices.output;
}

}  // namespace
}  // namespace must
