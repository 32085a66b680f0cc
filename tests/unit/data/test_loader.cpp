#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sched.h>

#include <mutex>
#include <set>

#include "must/core/check.h"
#include "must/data/image_io.h"
#include "must/data/loader.h"

namespace must::data {
namespace {

// n PNG-encoded images of varying size with a class map and depth; `broken` ones do not decode, `missing`
// throws a plain error (as a missing label file would).
class SyntheticDataset final : public Dataset {
 public:
  SyntheticDataset(int64_t n, std::set<int64_t> broken = {}, std::set<int64_t> missing = {})
      : n_(n), broken_(std::move(broken)), missing_(std::move(missing)) {
    info_.name = "synthetic";
    info_.tasks = {Task::kSegmentation, Task::kDepth, Task::kDetection};
  }
  int64_t size() const override { return n_; }
  Sample get(int64_t index) const override {
    if (missing_.count(index)) MUST_THROW(Error, "label file for record ", index, " does not exist");
    const int64_t h = 8 + index % 3, w = 10 + index % 5;
    Sample s;
    s.source = "record " + std::to_string(index);
    const torch::Tensor pixels = torch::full({h, w, 3}, index % 256, torch::kUInt8);
    s.encoded = broken_.count(index) ? std::string("not an image") : encode_png(pixels.data_ptr(), int(h), int(w), 3, 8);
    s.labels[Task::kSegmentation] = torch::full({h, w}, index % 7, torch::kLong);
    if (index % 2 == 0) s.labels[Task::kDepth] = torch::full({1, h, w}, 1.0f + float(index));
    if (index % 3 == 0) {
      s.instances = structures::Instances{torch::tensor({1.0f, 1.0f, 5.0f, 6.0f}).view({1, 4}),
                                          torch::tensor({index % 4}), {}, {}, {}};
    }
    return s;
  }

 private:
  int64_t n_;
  std::set<int64_t> broken_, missing_;
};

std::shared_ptr<Transform> flip_and_normalize() {
  return std::make_shared<Compose>(std::vector<std::shared_ptr<Transform>>{
      std::make_shared<HorizontalFlip>(0.5), std::make_shared<Normalize>()});
}

std::vector<Batch> epoch(Loader& loader, int64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  while (auto batch = loader.next()) out.push_back(std::move(*batch));
  return out;
}

TEST(Sampler, ShardsArePureFunctionsThatCoverTheDataset) {
  EXPECT_EQ(shard_indices(10, true, 7, 3, 1, 4), shard_indices(10, true, 7, 3, 1, 4));
  EXPECT_NE(shard_indices(10, true, 7, 3, 1, 4), shard_indices(10, true, 7, 4, 1, 4));
  std::multiset<int64_t> all;
  for (int64_t r = 0; r < 4; ++r) {
    const auto mine = shard_indices(10, true, 7, 3, r, 4);
    EXPECT_EQ(mine.size(), 3u);  // padded to 12
    all.insert(mine.begin(), mine.end());
  }
  for (int64_t i = 0; i < 10; ++i) EXPECT_GE(all.count(i), 1u);
  // Inference: contiguous, unpadded.
  EXPECT_EQ(shard_indices(10, false, 7, 3, 0, 4), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(shard_indices(10, false, 7, 3, 3, 4), (std::vector<int64_t>{8, 9}));
}

TEST(Loader, BatchesDoNotDependOnTheNumberOfWorkers) {
  auto dataset = std::make_shared<SyntheticDataset>(23);
  LoaderOptions options;
  options.batch_size = 4;
  options.seed = 11;
  options.workers = 1;
  Loader one(dataset, flip_and_normalize(), options);
  options.workers = 3;
  options.prefetch_batches = 2;
  Loader three(dataset, flip_and_normalize(), options);
  options.workers = 0;  // made on this thread
  Loader none(dataset, flip_and_normalize(), options);
  const auto a = epoch(one, 2), b = epoch(three, 2), c = epoch(none, 2);
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  ASSERT_EQ(c.size(), 6u);
  std::set<int64_t> seen;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices);
    EXPECT_EQ(a[i].indices, c[i].indices);
    EXPECT_TRUE(torch::equal(a[i].images.tensors, b[i].images.tensors));
    EXPECT_TRUE(torch::equal(a[i].images.tensors, c[i].images.tensors));
    seen.insert(a[i].indices.begin(), a[i].indices.end());
  }
  EXPECT_EQ(seen.size(), 23u);
  EXPECT_EQ(one.stats().samples, 23);
  EXPECT_NE(epoch(one, 3)[0].indices, a[0].indices);  // another epoch, another order
}

TEST(Loader, TrainingWorkersGoOnIntoTheNextEpochWithTheSameBatches) {
  // Epochs taken one after another (the workers already making the next epoch's first batches while this one's
  // last are delivered) give the batches that a loader started afresh on each epoch gives; a jump or a resumed
  // position starts over.
  auto dataset = std::make_shared<SyntheticDataset>(10);
  LoaderOptions options;
  options.batch_size = 4;  // 3 batches per epoch, fewer than the prefetch window: the workers run epochs ahead
  options.seed = 5;
  options.workers = 2;
  options.prefetch_batches = 5;
  Loader running(dataset, flip_and_normalize(), options);
  for (int64_t e : {0, 1, 2, 3, 5, 6}) {
    const std::vector<Batch> continued = epoch(running, e);
    Loader fresh(dataset, flip_and_normalize(), options);
    const std::vector<Batch> expected = epoch(fresh, e);
    ASSERT_EQ(continued.size(), 3u);
    ASSERT_EQ(expected.size(), 3u);
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(continued[i].indices, expected[i].indices) << "epoch " << e << " batch " << i;
      EXPECT_TRUE(torch::equal(continued[i].images.tensors, expected[i].images.tensors)) << "epoch " << e;
    }
    EXPECT_EQ(running.stats().samples, 10);
  }
  running.start_epoch(7, 2);  // a resumed position
  const auto last = running.next();
  ASSERT_TRUE(last.has_value());
  Loader fresh(dataset, flip_and_normalize(), options);
  EXPECT_EQ(last->indices, epoch(fresh, 7)[2].indices);
  EXPECT_FALSE(running.next().has_value());
}

// Records the scheduling policy of the threads that read its samples.
class PolicyRecordingDataset final : public Dataset {
 public:
  PolicyRecordingDataset() { info_.tasks = {Task::kSegmentation}; }
  int64_t size() const override { return 4; }
  Sample get(int64_t index) const override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      policies_.insert(sched_getscheduler(0));
    }
    return inner_.get(index);
  }
  std::set<int> policies() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return policies_;
  }

 private:
  SyntheticDataset inner_{4};
  mutable std::mutex mutex_;
  mutable std::set<int> policies_;
};

TEST(Loader, WorkersRunAtIdlePriorityUnlessToldOtherwise) {
  for (bool idle : {true, false}) {
    auto dataset = std::make_shared<PolicyRecordingDataset>();
    LoaderOptions options;
    options.batch_size = 2;
    options.idle_priority = idle;
    Loader loader(dataset, std::make_shared<Normalize>(), options);
    EXPECT_EQ(epoch(loader, 0).size(), 2u);
    EXPECT_EQ(dataset->policies(), std::set<int>{idle ? SCHED_IDLE : SCHED_OTHER}) << "idle_priority " << idle;
  }
}

TEST(Loader, BatchesBeforeOneThatFailsAreDeliveredFirst) {
  // Record 9 fails in the last of the 5 batches (inference order); the workers reach it at once, but
  // the error comes when delivery does.
  auto dataset = std::make_shared<SyntheticDataset>(10, std::set<int64_t>{}, std::set<int64_t>{9});
  LoaderOptions options;
  options.batch_size = 2;
  options.shuffle = false;
  options.workers = 3;
  options.prefetch_batches = 8;
  Loader loader(dataset, std::make_shared<Normalize>(), options);
  loader.start_epoch(0);
  for (int64_t b = 0; b < 4; ++b) {
    const auto batch = loader.next();
    ASSERT_TRUE(batch.has_value()) << "batch " << b;
    EXPECT_EQ(batch->indices, (std::vector<int64_t>{2 * b, 2 * b + 1}));
  }
  EXPECT_THROW(loader.next(), Error);
}

TEST(Loader, CollatePadsToTheStrideWithIgnoreValuesAndPresenceBits) {
  auto dataset = std::make_shared<SyntheticDataset>(4);
  LoaderOptions options;
  options.batch_size = 4;
  options.shuffle = false;
  options.size_divisible = 16;
  Loader loader(dataset, std::make_shared<Normalize>(), options);
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 1u);
  const Batch& batch = batches[0];
  EXPECT_EQ(batch.images.tensors.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));
  EXPECT_EQ(batch.images.image_sizes[3], (std::array<int64_t, 2>{8 + 0, 13}));
  const auto& seg = batch.targets.tasks.at(Task::kSegmentation);
  EXPECT_EQ(seg.values.sizes(), (std::vector<int64_t>{4, 16, 16}));
  EXPECT_EQ(seg.values[1][0][0].item<int64_t>(), 1);
  EXPECT_EQ(seg.values[1][15][15].item<int64_t>(), 255);  // padding is ignored
  const auto& depth = batch.targets.tasks.at(Task::kDepth);
  EXPECT_TRUE(torch::equal(depth.present, torch::tensor({true, false, true, false})));
  EXPECT_EQ(depth.values.sizes(), (std::vector<int64_t>{4, 1, 16, 16}));
  EXPECT_EQ(depth.values[2][0][0][0].item<float>(), 3.0f);
  EXPECT_EQ(depth.values[0][0][15][15].item<float>(), 0.0f);
  const auto& detection = batch.targets.tasks.at(Task::kDetection);
  EXPECT_TRUE(torch::equal(detection.present, torch::tensor({true, false, false, true})));
  ASSERT_EQ(detection.instances.size(), 4u);
  EXPECT_EQ(detection.instances[3].labels.item<int64_t>(), 3);
  EXPECT_EQ(detection.instances[1].size(), 0);
  // A task nobody in the batch has gets no entry, hence no loss term.
  std::vector<Sample> unlabelled(1);
  unlabelled[0].image = torch::zeros({3, 4, 4});
  unlabelled[0].source = "x";
  const Batch bare = collate(unlabelled, {0}, {Task::kDepth, Task::kDetection}, 4);
  EXPECT_TRUE(bare.targets.tasks.empty());
}

TEST(Loader, ImagesThatDoNotDecodeAreSkippedAndCounted) {
  auto dataset = std::make_shared<SyntheticDataset>(10, std::set<int64_t>{2, 7});
  LoaderOptions options;
  options.batch_size = 3;
  options.shuffle = false;
  Loader loader(dataset, std::make_shared<Normalize>(), options);
  int64_t delivered = 0;
  for (const auto& batch : epoch(loader, 0)) delivered += int64_t(batch.indices.size());
  EXPECT_EQ(delivered, 8);
  EXPECT_EQ(loader.stats().skipped, 2);
  EXPECT_EQ(loader.stats().skipped_sources, (std::vector<std::string>{"record 2", "record 7"}));
  options.stop_on_bad_image = true;
  Loader strict(dataset, std::make_shared<Normalize>(), options);
  strict.start_epoch(0);
  EXPECT_THROW({ while (strict.next()) {} }, Error);
}

TEST(Loader, TrainingReplacesImagesThatDoNotDecodeSoRanksKeepFullBatches) {
  // Ranks must make the same number of steps with the same batch size (their collectives pair up), whichever of
  // their images are broken (a third of them here).
  auto dataset = std::make_shared<SyntheticDataset>(12, std::set<int64_t>{0, 2, 4, 6});
  std::vector<size_t> batch_counts;
  for (int64_t rank = 0; rank < 2; ++rank) {
    LoaderOptions options;
    options.batch_size = 3;
    options.workers = 1;
    options.rank = rank;
    options.world_size = 2;
    Loader loader(dataset, std::make_shared<Normalize>(), options);
    const std::vector<Batch> batches = epoch(loader, 0);
    batch_counts.push_back(batches.size());
    // Each broken image's place goes to the next image of the rank's order that decodes.
    const std::vector<int64_t> order = shard_indices(12, true, 0, 0, rank, 2);
    auto broken = [](int64_t index) { return index % 2 == 0 && index <= 6; };
    std::vector<int64_t> expected, delivered;
    for (size_t p = 0; p < order.size(); ++p) {
      size_t q = p;
      while (broken(order[q % order.size()])) ++q;
      expected.push_back(order[q % order.size()]);
    }
    for (const auto& batch : batches) {
      ASSERT_EQ(batch.indices.size(), 3u);
      delivered.insert(delivered.end(), batch.indices.begin(), batch.indices.end());
    }
    EXPECT_EQ(delivered, expected);
    EXPECT_EQ(loader.stats().samples, 6);
  }
  EXPECT_EQ(batch_counts[0], batch_counts[1]);
  // Nothing decodes: a clear error, not an endless search.
  auto broken = std::make_shared<SyntheticDataset>(3, std::set<int64_t>{0, 1, 2});
  LoaderOptions options;
  options.batch_size = 2;
  Loader loader(broken, std::make_shared<Normalize>(), options);
  loader.start_epoch(0);
  EXPECT_THROW(loader.next(), Error);
}

TEST(Loader, OtherErrorsStopTheRunNamingTheRecord) {
  auto dataset = std::make_shared<SyntheticDataset>(10, std::set<int64_t>{}, std::set<int64_t>{5});
  LoaderOptions options;
  options.batch_size = 2;
  options.shuffle = false;
  Loader loader(dataset, std::make_shared<Normalize>(), options);
  loader.start_epoch(0);
  try {
    while (loader.next()) {
    }
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("record 5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace must::data
