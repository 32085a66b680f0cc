#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/io/tar.h"
#include "must/labels/label_codec.h"
#include "must/labels/manifest.h"
#include "must/data/image_io.h"
#include "must/data/loader.h"
#include "must/data/transforms.h"
#include "must/labels/store.h"
#include "must/labels/store_dataset.h"
#include "test_support.h"

namespace must::labels {
namespace {

const std::vector<Task> kAllTasks = {Task::kClassification, Task::kDetection, Task::kSegmentation, Task::kDepth,
                                     Task::kNormals};

// Image `index`'s labels for every task, 6 x 8 maps, values exact in float16.
data::Sample make_sample(int64_t index) {
  data::Sample s;
  s.source = "images/" + std::to_string(index) + ".png";
  s.labels[Task::kClassification] = torch::tensor({0.5f, 0.25f, 0.25f - 0.125f * float(index % 2), 0.125f * float(index % 2)});
  structures::Instances boxes;
  boxes.boxes = torch::tensor({{1.5f, 2.0f, 10.25f, 20.0f}, {0.0f, 0.0f, 3.0f, 4.0f}}).narrow(0, 0, index % 3 == 0 ? 0 : 2);
  boxes.labels = torch::tensor({2L, 0L}).narrow(0, 0, boxes.boxes.size(0));
  boxes.scores = torch::tensor({0.875f, 0.5f}).narrow(0, 0, boxes.boxes.size(0));
  s.instances = boxes;
  torch::Tensor seg = (torch::arange(48, torch::kLong).view({6, 8}) + index) % 7;
  seg.index_put_({0, 0}, 255);  // ignore
  s.labels[Task::kSegmentation] = seg;
  s.labels[Task::kDepth] = (torch::arange(48, torch::kFloat).view({1, 6, 8}) + float(index)) / 4;
  torch::Tensor normals = torch::zeros({3, 6, 8});
  normals[index % 3].fill_(index % 2 ? -1.0f : 1.0f);
  normals.select(1, 5).zero_();  // an invalid row
  s.labels[Task::kNormals] = normals;
  return s;
}

std::vector<std::pair<std::string, std::string>> members_of(int64_t index) {
  const data::Sample sample = make_sample(index);
  const std::string key = key_of(index);
  std::vector<std::pair<std::string, std::string>> members = {
      {key + ".json", nlohmann::json({{"index", index}, {"source", sample.source}}).dump()}};
  for (Task task : kAllTasks) members.emplace_back(member_name(key, task), encode_label(task, sample));
  return members;
}

// A finished store's manifest of every task, its input `count` images named as `input` lists them.
Manifest finished_manifest(int64_t shard_size, const data::Dataset* input, int64_t count) {
  Manifest manifest;
  manifest.tasks = kAllTasks;
  manifest.shard_size = shard_size;
  manifest.input = {"images", "nowhere", "", count, input ? input_list_sha256(*input) : ""};
  manifest.finished = true;
  return manifest;
}

// A store of 5 images in shards of 2 (the last holds 1), plus a failed image in shard 1.
void write_store(const std::filesystem::path& store) {
  Manifest manifest = finished_manifest(2, nullptr, 6);
  for (int64_t shard = 0; shard < 3; ++shard) {
    ShardWriter writer(store, shard, 2 * shard);
    for (int64_t index = 2 * shard; index < std::min<int64_t>(2 * shard + 2, 6); ++index) {
      if (index == 3) {
        writer.add_failed({3, "images/3.png", "does not decode"});
        continue;
      }
      if (index < 5) writer.add(key_of(index), members_of(index));
    }
    manifest.shards.push_back(writer.commit());
  }
  write_manifest(store, manifest);
}

TEST(LabelCodec, EveryTaskRoundTripsToTheSampleLayouts) {
  const data::Sample sample = make_sample(4);
  data::Sample back;
  for (Task task : kAllTasks) decode_label(task, encode_label(task, sample), "memory", back);
  for (Task task : {Task::kClassification, Task::kSegmentation, Task::kDepth, Task::kNormals}) {
    EXPECT_TRUE(torch::equal(back.labels.at(task), sample.labels.at(task))) << task_name(task);
    EXPECT_EQ(back.labels.at(task).scalar_type(), sample.labels.at(task).scalar_type()) << task_name(task);
  }
  ASSERT_TRUE(back.instances.has_value());
  EXPECT_TRUE(torch::equal(back.instances->boxes, sample.instances->boxes));
  EXPECT_TRUE(torch::equal(back.instances->labels, sample.instances->labels));
  EXPECT_TRUE(torch::equal(back.instances->scores, sample.instances->scores));

  data::Sample too_many = sample;
  too_many.labels[Task::kSegmentation] = torch::full({2, 2}, 300L);
  EXPECT_THROW(encode_label(Task::kSegmentation, too_many), Error);
  EXPECT_THROW(decode_label(Task::kDetection, "{\"boxes\": [[1, 2, 3]], \"labels\": [0], \"scores\": []}", "x.det.json", back),
               Error);
}

TEST(Store, ReadsBackByKeyInOurReaderAndInPlainPython) {
  test::ScratchDir dir;
  const auto store = dir / "store";
  write_store(store);
  StoreReader reader(store);
  EXPECT_EQ(reader.keys(), (std::vector<std::string>{key_of(0), key_of(1), key_of(2), key_of(4)}));
  for (int64_t index : {0, 1, 2, 4}) {
    const data::Sample expected = make_sample(index), got = reader.get(key_of(index));
    EXPECT_EQ(got.source, expected.source);
    for (Task task : {Task::kClassification, Task::kSegmentation, Task::kDepth, Task::kNormals}) {
      EXPECT_TRUE(torch::equal(got.labels.at(task), expected.labels.at(task))) << index << " " << task_name(task);
    }
    EXPECT_EQ(got.instances->size(), expected.instances->size());
  }
  const std::optional<ShardRecord> shard1 = finished_shard(store, 1);
  ASSERT_TRUE(shard1.has_value());
  EXPECT_EQ(shard1->count, 1);
  ASSERT_EQ(shard1->failed.size(), 1u);
  EXPECT_EQ(shard1->failed[0].reason, "does not decode");
  EXPECT_TRUE(verify_store(store).empty());

  const auto python = test::run_command(must::test::python() + " " + test::source_path("tests/labels/read_store.py").string() +
                                        " " + store.string());
  ASSERT_EQ(python.exit_code, 0) << python.output;
  const nlohmann::json read = nlohmann::json::parse(python.output);
  EXPECT_EQ(read.size(), 4u);
  for (int64_t index : {0, 1, 2, 4}) {
    const data::Sample s = make_sample(index);
    const nlohmann::json& entry = read.at(key_of(index));
    EXPECT_EQ(entry.at("json").get<int64_t>(), index);
    EXPECT_DOUBLE_EQ(entry.at("cls.npy").get<double>(), s.labels.at(Task::kClassification).sum().item<double>());
    EXPECT_DOUBLE_EQ(entry.at("depth.npy").get<double>(), s.labels.at(Task::kDepth).sum().item<double>());
    EXPECT_DOUBLE_EQ(entry.at("normal.npy").get<double>(), s.labels.at(Task::kNormals).sum().item<double>());
    const torch::Tensor seg = s.labels.at(Task::kSegmentation);
    EXPECT_EQ(entry.at("seg.png").get<int64_t>(), seg.masked_select(seg != 255).sum().item<int64_t>());
    EXPECT_EQ(entry.at("det.json")[0].get<int64_t>(), s.instances->size());
  }
}

TEST(Store, AFlippedByteIsNamedByVerifyRedoneByAndRefusedByTheReader) {
  test::ScratchDir dir;
  const auto store = dir / "store";
  write_store(store);
  const auto tar = shard_tar(store, 1);
  std::string bytes = read_file(tar);
  bytes[700] ^= 0x01;  // inside the first member's data
  write_file(tar, bytes);

  const std::vector<std::string> problems = verify_store(store);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("labels-000001: sha256 mismatch"), std::string::npos) << problems[0];
  std::string why;
  EXPECT_FALSE(finished_shard(store, 1, &why).has_value());  // a rerun redoes it
  EXPECT_NE(why.find("sha256 mismatch"), std::string::npos) << why;
  EXPECT_TRUE(finished_shard(store, 0).has_value());

  StoreReader reader(store);
  EXPECT_NO_THROW(reader.get(key_of(0)));
  try {
    reader.get(key_of(2));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels-000001.tar: sha256"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("refusing a damaged shard"), std::string::npos) << e.what();
  }
}

// The first two depth maps of a shard's .idx given each other's offsets (their sizes are equal): a reader
// trusting the index would serve one image's depth as the other's.
void swap_depth_entries(const std::filesystem::path& store, int64_t shard) {
  const auto idx = store / "shards" / (shard_name(shard) + ".idx");
  std::vector<io::TarMember> members = io::decode_tar_index(read_file(idx), idx.string());
  std::vector<io::TarMember*> depth;
  for (auto& member : members) {
    if (member.name.size() > 10 && member.name.compare(member.name.size() - 10, 10, ".depth.npy") == 0) {
      depth.push_back(&member);
    }
  }
  ASSERT_GE(depth.size(), 2u) << idx;
  ASSERT_EQ(depth[0]->size, depth[1]->size);
  std::swap(depth[0]->offset, depth[1]->offset);
  write_file(idx, io::encode_tar_index(members));
}

TEST(Store, AnIndexWithTwoEntriesSwappedFailsVerifyIsRedoneAndIsRefusedByTheReader) {
  test::ScratchDir dir;
  const auto store = dir / "store";
  write_store(store);
  swap_depth_entries(store, 0);  // images 0 and 1: their depth maps differ, their sizes do not

  const std::vector<std::string> problems = verify_store(store);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("labels-000000: .idx sha256 mismatch"), std::string::npos) << problems[0];
  std::string why;
  EXPECT_FALSE(finished_shard(store, 0, &why).has_value());  // a rerun redoes it
  EXPECT_NE(why.find(".idx sha256 mismatch"), std::string::npos) << why;
  EXPECT_TRUE(finished_shard(store, 1).has_value());
  try {
    StoreReader reader(store);
    FAIL() << "the reader took the index";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels-000000.idx: sha256"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("refusing a damaged shard index"), std::string::npos) << e.what();
  }
}

TEST(Manifest, RoundTripsThroughJsonAndStoresOfAnotherFormatAreRefusedNamingIt) {
  Manifest m = finished_manifest(2, nullptr, 6);
  m.teachers.push_back({Task::kDepth, "depth.yaml", "depth.safetensors", "ab12", "model: {}\n", 32, 0.002});
  m.policy.top_k = 3;
  m.policy.dense_size = {64, 48};
  m.shards.push_back({"labels-000000", 0, 2, 1024, "cd34", "ef56", {{1, "images/1.png", "does not decode"}}});
  m.failed = m.shards[0].failed;
  const Manifest back = manifest_from_json(to_json(m), "memory");
  EXPECT_EQ(to_json(back), to_json(m));
  ASSERT_EQ(back.teachers.size(), 1u);
  EXPECT_EQ(back.teachers[0].task, Task::kDepth);
  EXPECT_EQ(back.teachers[0].batch_size, 32);
  EXPECT_DOUBLE_EQ(back.teachers[0].lr, 0.002);
  EXPECT_EQ(back.shards[0].idx_sha256, "ef56");
  EXPECT_FALSE(plan_difference(back, m).has_value());
  Manifest other = m;
  other.teachers[0].weights_sha256 = "9f00";
  EXPECT_EQ(plan_difference(m, other).value_or(""), "weights for depth (\"ab12\", now \"9f00\")");
  other = m;
  other.teachers[0].depth = "relative";
  EXPECT_EQ(plan_difference(m, other).value_or(""), "depth values for depth (\"metric\", now \"relative\")");
  // A store written before teacher kinds: a native teacher of metric depth.
  nlohmann::json before_kinds = to_json(m);
  before_kinds["teachers"][0].erase("kind");
  before_kinds["teachers"][0].erase("depth");
  EXPECT_EQ(to_json(manifest_from_json(before_kinds, "memory")), to_json(m));

  Manifest plan_only = m;
  plan_only.finished = false;
  EXPECT_FALSE(to_json(plan_only).contains("shards"));
  EXPECT_FALSE(manifest_from_json(to_json(plan_only), "memory").finished);

  nlohmann::json old = to_json(m);
  old["format"] = "must-labels-1";
  try {
    manifest_from_json(old, "old/manifest.json");
    FAIL() << "an old store was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("old/manifest.json: store format 'must-labels-1' is not must-labels-2"),
              std::string::npos)
        << e.what();
  }
  nlohmann::json broken = to_json(m);
  broken["teachers"][0].erase("lr");
  EXPECT_THROW(manifest_from_json(broken, "broken"), Error);
}

TEST(Store, AShardNeverFinishedLeavesNoFileUnderItsFinalName) {
  test::ScratchDir dir;
  const auto store = dir / "store";
  {
    ShardWriter writer(store, 7, 14);
    writer.add(key_of(14), members_of(14));
  }  // dropped before commit(): a killed run
  EXPECT_FALSE(std::filesystem::exists(shard_tar(store, 7)));
  std::string why;
  EXPECT_FALSE(finished_shard(store, 7, &why).has_value());
  EXPECT_EQ(why, "not written");
  for (const auto& entry : std::filesystem::directory_iterator(store / "shards")) ADD_FAILURE() << entry.path();
}

// A 12 x 16 RGB PNG whose pixels depend on `index`.
std::string image_png(int64_t index) {
  const torch::Tensor pixels = ((torch::arange(12 * 16 * 3, torch::kLong) + index * 7) % 251).to(torch::kUInt8);
  return data::encode_png(pixels.data_ptr(), 12, 16, 3, 8);
}

// The images of the store below, as an input dataset would give them (with a label the store must not use).
class InputImages final : public data::Dataset {
 public:
  explicit InputImages(std::string folder = "input") : folder_(std::move(folder)) {
    info_.name = "input images";
    info_.tasks = {Task::kDepth};
  }
  int64_t size() const override { return 3; }
  data::Sample get(int64_t index) const override {
    data::Sample sample;
    sample.source = folder_ + "/" + std::to_string(index) + ".png";
    sample.encoded = image_png(index);
    sample.labels[Task::kDepth] = torch::zeros({1, 12, 16});
    return sample;
  }

 private:
  std::string folder_;
};

// 3 images of 12 x 16 whose dense labels are stored at 6 x 8 (store.dense_size), with or without the images.
void write_student_store(const std::filesystem::path& store, bool pack_images) {
  Manifest manifest = finished_manifest(3, nullptr, 3);
  manifest.input.root = (store / "nowhere").string();
  manifest.input.list_sha256 = input_list_sha256(InputImages());
  manifest.policy.pack_images = pack_images;
  ShardWriter writer(store, 0, 0);
  for (int64_t index = 0; index < 3; ++index) {
    std::vector<std::pair<std::string, std::string>> members = members_of(index);
    members[0].second = nlohmann::json({{"index", index}, {"source", "input/" + std::to_string(index) + ".png"},
                                        {"original_size", {12, 16}}, {"stored_size", {6, 8}}})
                            .dump();
    if (pack_images) members.emplace_back(key_of(index) + ".png", image_png(index));
    writer.add(key_of(index), members);
  }
  manifest.shards.push_back(writer.commit());
  write_manifest(store, manifest);
}

TEST(StoreDataset, GivesImagesWithEveryTaskAtTheImageSizeRealLabelsWinAndBatchesThroughTheLoader) {
  test::ScratchDir dir;
  write_student_store(dir / "packed", true);
  write_student_store(dir / "unpacked", false);
  EXPECT_THROW(StoreDataset(dir / "unpacked"), Error);  // no images anywhere
  try {  // other images than the store's input: their labels would go to the wrong images
    StoreDataset(dir / "unpacked", std::make_shared<InputImages>("elsewhere"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unpacked was made from other images than input images"), std::string::npos)
        << e.what();
  }
  const auto packed = std::make_shared<StoreDataset>(dir / "packed");
  const auto unpacked = std::make_shared<StoreDataset>(dir / "unpacked", std::make_shared<InputImages>());
  ASSERT_EQ(packed->size(), 3);
  EXPECT_EQ(packed->info().tasks, kAllTasks);
  for (int64_t index = 0; index < 3; ++index) {
    data::Sample a = packed->get(index), b = unpacked->get(index);
    EXPECT_EQ(a.encoded, image_png(index));
    EXPECT_EQ(b.encoded, image_png(index));
    EXPECT_EQ(a.image_size(), (std::array<int64_t, 2>{12, 16}));
    const data::Sample stored = make_sample(index);
    // Class maps by nearest pixel: each stored pixel becomes a 2 x 2 block.
    const torch::Tensor seg = a.labels.at(Task::kSegmentation);
    ASSERT_EQ(seg.sizes(), (std::vector<int64_t>{12, 16}));
    EXPECT_TRUE(torch::equal(seg.index({torch::indexing::Slice(0, 12, 2), torch::indexing::Slice(0, 16, 2)}),
                             stored.labels.at(Task::kSegmentation)));
    EXPECT_EQ(a.labels.at(Task::kDepth).sizes(), (std::vector<int64_t>{1, 12, 16}));
    EXPECT_EQ(a.labels.at(Task::kNormals).sizes(), (std::vector<int64_t>{3, 12, 16}));
    EXPECT_TRUE(torch::equal(a.labels.at(Task::kClassification), stored.labels.at(Task::kClassification)));
    EXPECT_TRUE(torch::equal(a.labels.at(Task::kDepth), b.labels.at(Task::kDepth)));  // not the input's zeros
    EXPECT_TRUE(torch::equal(a.instances->boxes, stored.instances->boxes));  // boxes are in the image's pixels
  }
  // Real labels win: the input's depth replaces the pseudo depth; only the store's segmentation is taken besides.
  StoreDatasetOptions mixed;
  mixed.pseudo_tasks = {Task::kSegmentation, Task::kDepth};
  mixed.real_tasks = {Task::kDepth};
  const StoreDataset both(dir / "packed", std::make_shared<InputImages>(), mixed);
  EXPECT_EQ(both.info().tasks, (std::vector<Task>{Task::kSegmentation, Task::kDepth}));
  const data::Sample real = both.get(1);
  EXPECT_TRUE(torch::equal(real.labels.at(Task::kDepth), torch::zeros({1, 12, 16})));
  EXPECT_TRUE(real.has(Task::kSegmentation));
  EXPECT_FALSE(real.has(Task::kNormals));
  EXPECT_FALSE(real.has(Task::kDetection));
  mixed.real_tasks = {Task::kNormals};  // the input has none
  EXPECT_THROW(StoreDataset(dir / "packed", std::make_shared<InputImages>(), mixed), Error);
  // The loader's transforms and collate take it as any labelled dataset.
  data::LoaderOptions options;
  options.batch_size = 3;
  options.workers = 0;
  // A flip on every sample: the normals' x flips with the image, every map follows.
  data::Loader loader(packed,
                      std::make_shared<data::Compose>(std::vector<std::shared_ptr<data::Transform>>{
                          std::make_shared<data::HorizontalFlip>(1.0), std::make_shared<data::Normalize>()}),
                      options);
  loader.start_epoch(0);
  const std::optional<data::Batch> batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->targets.tasks.size(), 5u);
  EXPECT_EQ(batch->targets.tasks.at(Task::kSegmentation).values.size(1), 32);  // padded to the stride
}

}  // namespace
}  // namespace must::labels
