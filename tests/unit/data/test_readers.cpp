// Readers against format-exact fixtures written by tests/data/make_data_fixtures.py, and against what
// Debian's torchvision dataset classes read from the same files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/data/dataset.h"
#include "must/data/decode.h"
#include "must/io/npy.h"
#include "must/io/tar.h"
#include "nyu_mat.h"
#include "parity.h"

namespace must::data {
namespace {

class Readers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fresh_fixtures();
    reference_ = new std::map<std::string, torch::Tensor>(test::read_tensors(dir_->path() / "reference.pth"));
  }
  // A fresh copy of the fixtures for each test: some tests damage a file to see the error.
  void SetUp() override { fresh_fixtures(); }
  static void fresh_fixtures() {
    delete dir_;
    dir_ = new test::ScratchDir();
    test::copy_cached_fixtures("data", test::source_path("tests/data/make_data_fixtures.py"), dir_->path());
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete dir_;
    dir_ = nullptr;
  }
  static std::filesystem::path path(const std::string& relative) { return dir_->path() / relative; }
  static const torch::Tensor& ref(const std::string& key) { return reference_->at(key); }
  static std::shared_ptr<Dataset> open(const std::string& format, const std::string& root, const std::string& split = "",
                                       const std::string& annotations = "") {
    DatasetOptions options;
    options.format = format;
    options.root = path(root);
    options.split = split;
    if (!annotations.empty()) options.annotations = path(annotations);
    return make_dataset(options);
  }
  static Sample decoded(const Dataset& dataset, int64_t index) {
    Sample sample = dataset.get(index);
    sample.decode();
    return sample;
  }

  static test::ScratchDir* dir_;
  static std::map<std::string, torch::Tensor>* reference_;
};

test::ScratchDir* Readers::dir_ = nullptr;
std::map<std::string, torch::Tensor>* Readers::reference_ = nullptr;

// JPEG decoders may differ by a level or two (libjpeg-turbo's fast DCT vs PIL's default).
void expect_same_jpeg(const torch::Tensor& ours, const torch::Tensor& theirs, const std::string& what) {
  ASSERT_EQ(ours.sizes(), theirs.sizes()) << what;
  EXPECT_LE((ours.to(torch::kInt) - theirs.to(torch::kInt)).abs().to(torch::kFloat).mean().item<float>(), 1.5f) << what;
}

TEST_F(Readers, VocDetectionMatchesTorchvisionWithPixelEdgeBoxesAndDifficultAsIgnore) {
  const auto voc = open("voc_detection", "VOCdevkit/VOC2007", "train");
  ASSERT_EQ(voc->size(), 2);
  EXPECT_EQ(voc->info().class_names.at(Task::kDetection).size(), 20u);
  for (int64_t i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    const Sample sample = decoded(*voc, i);
    expect_same_jpeg(sample.image, ref("voc.image." + n), "image " + n);
    // 1-based inclusive corners -> (x1 - 1, y1 - 1, x2, y2).
    const torch::Tensor expected = ref("voc.boxes." + n) - torch::tensor({1.0f, 1.0f, 0.0f, 0.0f});
    EXPECT_TRUE(torch::equal(sample.instances->boxes, expected)) << sample.instances->boxes << expected;
    EXPECT_TRUE(torch::equal(sample.instances->ignore, ref("voc.difficult." + n).to(torch::kBool)));
  }
  const Sample first = voc->get(0);
  EXPECT_TRUE(torch::equal(first.instances->labels, torch::tensor({11, 14}, torch::kLong)));  // dog, person
}

TEST_F(Readers, VocSegmentationReadsPaletteIndicesAsTorchvision) {
  const auto voc = open("voc_segmentation", "VOCdevkit/VOC2007", "train");
  for (int64_t i = 0; i < 2; ++i) {
    const Sample sample = voc->get(i);
    const torch::Tensor& mask = sample.labels.at(Task::kSegmentation);
    EXPECT_TRUE(torch::equal(mask, ref("voc.mask." + std::to_string(i))));
    EXPECT_TRUE((mask == 255).any().item<bool>());  // void kept as the ignore value
    EXPECT_TRUE((mask == 15).any().item<bool>());
  }
}

TEST_F(Readers, CityscapesMapsLabelIdsToTrainIds) {
  const auto city = open("cityscapes", "cityscapes", "train");
  ASSERT_EQ(city->size(), 1);
  const Sample sample = decoded(*city, 0);
  EXPECT_TRUE(torch::equal(sample.image, ref("cityscapes.image")));  // PNG: exact
  const torch::Tensor ids = ref("cityscapes.label_ids"), train = sample.labels.at(Task::kSegmentation);
  const std::map<int64_t, int64_t> expected = {{0, 255}, {1, 255}, {3, 255}, {6, 255}, {7, 0},   {8, 1},
                                               {9, 255}, {26, 13}, {33, 18}, {24, 11}, {31, 16}, {15, 255}};
  for (const auto& [id, train_id] : expected) {
    const torch::Tensor where = ids == id;
    ASSERT_TRUE(where.any().item<bool>()) << id;
    EXPECT_TRUE((train.masked_select(where) == train_id).all().item<bool>()) << "labelId " << id;
  }
  EXPECT_EQ(open("cityscapes", "cityscapes", "val")->size(), 1);
}

TEST_F(Readers, Ade20kShiftsClassesAndIgnoresOther) {
  const auto ade = open("ade20k", "ADEChallengeData2016", "training");
  const torch::Tensor raw = ref("ade20k.raw"), labels = ade->get(0).labels.at(Task::kSegmentation);
  EXPECT_TRUE(torch::equal(labels.masked_select(raw == 0), torch::full({(raw == 0).sum().item<int64_t>()}, 255, torch::kLong)));
  const torch::Tensor classes = (raw >= 1) & (raw <= 150);
  EXPECT_TRUE(torch::equal(labels.masked_select(classes), raw.masked_select(classes) - 1));
  EXPECT_TRUE((labels.masked_select(raw == 151) == 255).all().item<bool>());
}

TEST_F(Readers, Cifar100BinaryEqualsTorchvisionOnTheSameRecords) {
  const auto cifar = open("cifar100", "cifar-100-binary", "train");
  ASSERT_EQ(cifar->size(), 3);
  for (int64_t i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    const Sample sample = cifar->get(i);
    EXPECT_TRUE(torch::equal(sample.image, ref("cifar100.image." + n))) << "record " << i;
    EXPECT_EQ(sample.labels.at(Task::kClassification).argmax().item<int64_t>(), ref("cifar100.label." + n).item<int64_t>());
    EXPECT_EQ(sample.labels.at(Task::kClassification).size(0), 100);
  }
  const auto cifar10 = open("cifar10", "cifar-10-batches-bin", "test");
  ASSERT_EQ(cifar10->size(), 3);
  EXPECT_EQ(cifar10->get(1).labels.at(Task::kClassification).argmax().item<int64_t>(), 3);
  EXPECT_TRUE(torch::equal(cifar10->get(2).image, ref("cifar100.image.2")));
}

TEST_F(Readers, TruncatedCifarRecordNamesFileAndRecord) {
  std::filesystem::copy_file(path("cifar-100-binary/truncated.bin"), path("cifar-100-binary/train.bin"),
                             std::filesystem::copy_options::overwrite_existing);
  try {
    open("cifar100", "cifar-100-binary", "train");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.bin: truncated CIFAR record 1"), std::string::npos) << e.what();
  }
}

TEST_F(Readers, ImageFolderEqualsTorchvision) {
  const auto folder = open("image_folder", "folder");
  ASSERT_EQ(folder->size(), 3);
  EXPECT_EQ(folder->info().class_names.at(Task::kClassification), (std::vector<std::string>{"cat", "dog"}));
  for (int64_t i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    const Sample sample = decoded(*folder, i);
    EXPECT_TRUE(torch::equal(sample.image, ref("folder.image." + n)));
    EXPECT_EQ(sample.labels.at(Task::kClassification).argmax().item<int64_t>(), ref("folder.label." + n).item<int64_t>());
  }
  EXPECT_EQ(open("images", "folder/dog")->size(), 2);
}

// The image folder's samples as WebDataset-style tar shards (<key>.jpg and <key>.cls; the second shard with its
// .idx beside it): read in place, the same images and classes; a key with two images, a .cls that is not a class
// and an index of another shard are named.
TEST_F(Readers, TarShardsReadTheImageFolderInPlace) {
  const auto folder = open("image_folder", "folder");
  const auto write_shard = [&](const std::string& name, const std::vector<std::pair<std::string, std::string>>& members) {
    AtomicFileWriter out(path("shards") / name);
    io::TarWriter tar(out);
    for (const auto& [member, bytes] : members) tar.add(member, bytes);
    tar.finish();
    out.commit();
    return tar.members();
  };
  std::filesystem::create_directories(path("shards"));
  const auto image = [&](int64_t i) { return read_file(folder->source(i)); };
  const auto label = [&](int64_t i) {
    return std::to_string(folder->get(i).labels.at(Task::kClassification).argmax().item<int64_t>());
  };
  write_shard("a.tar", {{"k0.jpg", image(0)}, {"k0.cls", label(0)}, {"k1.cls", label(1)}, {"k1.jpg", image(1)},
                        {"notes.txt", "no image: not a sample"}});
  const auto b = write_shard("b.tar", {{"k2.jpg", image(2)}, {"k2.cls", label(2) + "\n"}});
  write_file(path("shards/b.idx"), io::encode_tar_index(b));
  DatasetOptions options;
  options.format = "tar_shards";
  options.root = path("shards");
  options.class_names = {"cat", "dog"};
  const auto shards = make_dataset(options);
  ASSERT_EQ(shards->size(), 3);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::equal(decoded(*shards, i).image, decoded(*folder, i).image)) << i;
    EXPECT_TRUE(torch::equal(shards->get(i).labels.at(Task::kClassification),
                             folder->get(i).labels.at(Task::kClassification)))
        << i;
  }
  EXPECT_EQ(shards->source(2), path("shards/b.tar").string() + ":k2.jpg");
  const auto fails_naming = [&](const std::string& expected) {
    try {
      const auto dataset = make_dataset(options);
      for (int64_t i = 0; i < dataset->size(); ++i) dataset->get(i);
      ADD_FAILURE() << "no error; expected one naming " << expected;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  write_shard("b.tar", {{"k2.jpg", image(2)}, {"k2.cls", "dog"}, {"k3.png", image(0)}});
  fails_naming("b.tar: member 'k2.cls' is not at byte");  // its index is of the shard as it was
  std::filesystem::remove(path("shards/b.idx"));
  fails_naming("b.tar:k2.cls: 'dog' is not a class index in [0, 2)");
  write_shard("b.tar", {{"k2.jpg", image(2)}, {"k2.png", image(0)}});
  fails_naming("b.tar: key 'k2' has two images (k2.jpg and k2.png)");
}

// Several datasets read as one (torch's ConcatDataset), in order; their classes must agree.
TEST_F(Readers, DatasetsReadAsOne) {
  DatasetOptions folder;
  folder.format = "image_folder";
  folder.root = path("folder");
  const auto twice = make_dataset(std::vector<DatasetOptions>{folder, folder});
  const auto once = make_dataset(folder);
  ASSERT_EQ(twice->size(), 2 * once->size());
  for (int64_t i = 0; i < twice->size(); ++i) {
    EXPECT_EQ(twice->source(i), once->source(i % once->size()));
    EXPECT_TRUE(torch::equal(decoded(*twice, i).labels.at(Task::kClassification),
                             decoded(*once, i % once->size()).labels.at(Task::kClassification)));
  }
  EXPECT_EQ(twice->info().class_names, once->info().class_names);
  std::filesystem::create_directories(path("other/bird"));
  std::filesystem::copy(path("folder/cat/z.png"), path("other/bird/z.png"));
  DatasetOptions other = folder;
  other.root = path("other");
  try {
    make_dataset(std::vector<DatasetOptions>{folder, other});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the same tasks and classes"), std::string::npos) << e.what();
  }
}

TEST_F(Readers, CocoBoxesCategoriesAndCrowd) {
  const auto coco = open("coco", "coco", "", "coco/instances.json");
  ASSERT_EQ(coco->size(), 2);
  EXPECT_EQ(coco->info().class_names.at(Task::kDetection), (std::vector<std::string>{"person", "dog", "toothbrush"}));
  const Sample first = coco->get(0);
  EXPECT_TRUE(torch::equal(first.instances->boxes, torch::tensor({2.5f, 3.0f, 12.5f, 11.0f, 0.0f, 0.0f, 30.0f, 20.0f}).view({2, 4})));
  EXPECT_TRUE(torch::equal(first.instances->labels, torch::tensor({1, 0}, torch::kLong)));  // ids 18, 1 -> 1, 0
  EXPECT_TRUE(torch::equal(first.instances->ignore, torch::tensor({false, true})));        // crowd
  EXPECT_EQ(coco->get(1).instances->labels.item<int64_t>(), 2);
  try {
    open("coco", "coco", "", "coco/negative_width.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("annotation 10 has a box of negative width"), std::string::npos) << e.what();
  }
  std::ofstream(path("coco/no_image_id.json")) << R"({"images": [], "categories": [{"id": 1, "name": "a"}], "annotations": [{"id": 4, "category_id": 1, "bbox": [0, 0, 1, 1]}]})";
  try {
    open("coco", "coco", "", "coco/no_image_id.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_image_id.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("annotation 4"), std::string::npos) << e.what();
  }
}

TEST_F(Readers, IdxPlainAndGzip) {
  for (const char* split : {"train", "t10k"}) {  // train is gzip-compressed, t10k plain
    const auto idx = open("idx", "idx", split);
    ASSERT_EQ(idx->size(), 4) << split;
    for (int64_t i = 0; i < 4; ++i) {
      const Sample sample = idx->get(i);
      EXPECT_TRUE(torch::equal(sample.image.select(2, 1), ref("idx.images")[i])) << split;
      EXPECT_EQ(sample.labels.at(Task::kClassification).argmax().item<int64_t>(), ref("idx.labels")[i].item<int64_t>());
    }
  }
}

TEST_F(Readers, DiodeDepthMaskAndNormals) {
  const auto diode = open("diode", "diode", "val");
  ASSERT_EQ(diode->size(), 1);
  const Sample sample = diode->get(0);
  EXPECT_TRUE(torch::equal(sample.labels.at(Task::kDepth)[0], ref("diode.depth")));
  EXPECT_TRUE(torch::equal(sample.labels.at(Task::kNormals), ref("diode.normals")));
  EXPECT_EQ(sample.labels.at(Task::kDepth)[0][0][0].item<float>(), 0.0f);  // masked out
}

TEST_F(Readers, NyuPngDepthInMetres) {
  const auto nyu = open("nyu_png", "nyu", "test");
  const Sample sample = nyu->get(0);
  EXPECT_TRUE(torch::allclose(sample.labels.at(Task::kDepth)[0], ref("nyu.depth_mm").to(torch::kFloat) / 1000.0));
}

TEST_F(Readers, NpyRoundTripAndHeader) {
  const auto array = torch::arange(24, torch::kFloat).view({2, 3, 4});
  io::write_npy(path("round.npy"), array);
  EXPECT_TRUE(torch::equal(io::read_npy(path("round.npy")), array));
  const std::string bytes = read_file(path("round.npy"));
  EXPECT_EQ((10 + size_t(uint8_t(bytes[8]))) % 64, 0u);
  std::ofstream(path("cut.npy"), std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  EXPECT_THROW(io::read_npy(path("cut.npy")), Error);
}

TEST_F(Readers, NyuLabeledMatIsReadThroughHdf5) {
  const auto images = torch::randint(0, 256, {3, 3, 8, 6}, torch::kUInt8);  // (N, 3, W, H)
  const auto depths = torch::rand({3, 8, 6}) * 9 + 0.5;                     // (N, W, H) metres
  test::write_nyu_mat(path("nyu.mat"), images, depths, true);
  DatasetOptions options;
  options.format = "nyu_labeled";
  options.annotations = path("nyu.mat");
  std::ofstream(path("test_ids.txt")) << "3\n1\n";  // 1-based, as splits.mat
  options.split = path("test_ids.txt").string();
  const auto nyu = make_dataset(options);
  ASSERT_EQ(nyu->size(), 2);
  const Sample sample = nyu->get(0);  // image 3
  EXPECT_TRUE(torch::equal(sample.image, images[2].permute({2, 1, 0})));
  EXPECT_TRUE(torch::equal(sample.labels.at(Task::kDepth)[0], depths[2].t()));
  test::write_nyu_mat(path("broken.mat"), images, depths, false);
  options.annotations = path("broken.mat");
  try {
    make_dataset(options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.mat: HDF5 file has no dataset 'depths'"), std::string::npos) << e.what();
  }
}

TEST_F(Readers, XmlWithoutBndboxNamesFileAndObject) {
  const auto xml = path("VOCdevkit/VOC2007/Annotations/000002.xml");
  std::string text = read_file(xml);
  text.replace(text.find("<bndbox>"), text.find("</bndbox>") + 9 - text.find("<bndbox>"), "");
  std::ofstream(xml) << text;
  try {
    open("voc_detection", "VOCdevkit/VOC2007", "train")->get(1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("000002.xml: object 0 ('car') has no <bndbox>"), std::string::npos) << e.what();
  }
}

TEST_F(Readers, TruncatedImageIsADecodeErrorNamingTheFile) {
  const auto jpeg = path("coco/images/000000000002.jpg");
  const std::string bytes = read_file(jpeg);
  std::ofstream(jpeg, std::ios::binary | std::ios::trunc) << bytes.substr(0, 40);
  Sample sample = open("coco", "coco", "", "coco/instances.json")->get(1);
  try {
    sample.decode();
    FAIL() << "no error";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("000000000002.jpg"), std::string::npos) << e.what();
  }
  EXPECT_THROW(open("voc_detection", "VOCdevkit/VOC2007", "val"), Error);  // no val list: names the file
}

// A broken label is a malformed annotation (stops a run), not a bad image (skipped).
TEST_F(Readers, BrokenLabelPngIsAnErrorNotADecodeError) {
  const auto png = path("VOCdevkit/VOC2007/SegmentationClass/000001.png");
  const std::string bytes = read_file(png);
  std::ofstream(png, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  const auto voc = open("voc_segmentation", "VOCdevkit/VOC2007", "train");
  try {
    voc->get(0);
    FAIL() << "no error";
  } catch (const DecodeError& e) {
    FAIL() << "a label should not be skippable: " << e.what();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("000001.png"), std::string::npos) << e.what();
  }
}

TEST_F(Readers, SourceNamesTheSameFileAsGetWithoutReadingIt) {
  for (const auto& dataset : {open("image_folder", "folder"), open("images", "folder/dog"),
                              open("coco", "coco", "", "coco/instances.json"),
                              open("voc_detection", "VOCdevkit/VOC2007", "train"),
                              open("voc_segmentation", "VOCdevkit/VOC2007", "train"),
                              open("ade20k", "ADEChallengeData2016", "training"), open("diode", "diode", "val"),
                              open("cifar100", "cifar-100-binary", "train")}) {
    for (int64_t i = 0; i < dataset->size(); ++i) {
      EXPECT_EQ(dataset->source(i), dataset->get(i).source) << dataset->info().name << " sample " << i;
    }
  }
}

TEST_F(Readers, UnknownFormatListsTheKnownOnes) {
  try {
    open("pascal", "x");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("voc_detection"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace must::data

#include "must/config/config.h"
#include "must/data/loader.h"
#include "must/world/world_writer.h"

namespace must::data {
namespace {

// The world's splits read back with every label they hold, through the loader too.
TEST(WorldReader, SplitsCarryTheirLabels) {
  test::ScratchDir dir;
  const auto config = config::Config::load(world::world_defaults(), test::source_path("configs/quick/world.yaml"), {});
  world::write_world(world::world_options_from_config(config.at("world")), dir.path(), 2);
  DatasetOptions options;
  options.format = "world";
  options.root = dir.path();
  options.split = "val";
  const auto val = make_dataset(options);
  ASSERT_EQ(val->size(), 16);
  for (int64_t i = 0; i < val->size(); ++i) EXPECT_EQ(val->source(i), val->get(i).source);
  EXPECT_EQ(val->info().tasks.size(), 5u);
  EXPECT_EQ(val->info().class_names.at(Task::kSegmentation).size(), 7u);
  Sample sample = val->get(3);
  sample.decode();
  EXPECT_EQ(sample.image.sizes(), (std::vector<int64_t>{32, 32, 3}));
  EXPECT_EQ(sample.labels.at(Task::kClassification).sum().item<float>(), 1.0f);
  ASSERT_TRUE(sample.instances.has_value());
  if (sample.instances->size() > 0) {
    EXPECT_GE(sample.instances->boxes.min().item<float>(), 0.0f);
    EXPECT_LE(sample.instances->boxes.max().item<float>(), 32.0f);
    EXPECT_LT(sample.instances->labels.max().item<int64_t>(), 5);
  }
  EXPECT_LT(sample.labels.at(Task::kSegmentation).max().item<int64_t>(), 7);
  const torch::Tensor depth = sample.labels.at(Task::kDepth);
  EXPECT_EQ(depth.sizes(), (std::vector<int64_t>{1, 32, 32}));
  EXPECT_GT(depth.max().item<float>(), 0.1f);   // metres, not millimetres
  EXPECT_LT(depth.max().item<float>(), 100.0f);
  const torch::Tensor normals = sample.labels.at(Task::kNormals);
  const torch::Tensor length = normals.norm(2, 0);
  const torch::Tensor valid = length > 0;
  EXPECT_TRUE(valid.any().item<bool>());
  EXPECT_TRUE(((length.masked_select(valid) - 1).abs() < 0.02).all().item<bool>());  // 8/16-bit quantised

  options.split = "teacher_detection";
  EXPECT_EQ(make_dataset(options)->info().tasks, (std::vector<Task>{Task::kDetection}));
  options.split = "unlabeled";
  EXPECT_TRUE(make_dataset(options)->info().tasks.empty());
  options.split = "nope";
  EXPECT_THROW(make_dataset(options), ConfigError);

  LoaderOptions loader_options;
  loader_options.batch_size = 5;
  Loader loader(val, std::make_shared<Compose>(std::vector<std::shared_ptr<Transform>>{
                         std::make_shared<HorizontalFlip>(), std::make_shared<Normalize>()}),
                loader_options);
  loader.start_epoch(0);
  int64_t samples = 0;
  while (auto batch = loader.next()) {
    samples += int64_t(batch->indices.size());
    EXPECT_EQ(batch->targets.tasks.size(), 5u);
    EXPECT_EQ(batch->images.tensors.size(2), 32);
  }
  EXPECT_EQ(samples, 16);
}

}  // namespace
}  // namespace must::data
