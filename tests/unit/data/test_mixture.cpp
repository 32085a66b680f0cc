#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <set>

#include "must/core/check.h"
#include "must/data/mixture.h"

namespace must::data {
namespace {

// n samples of one task each: a class vector for "cls" sources, a depth map otherwise; source() names them.
class TinyDataset final : public Dataset {
 public:
  TinyDataset(std::string name, int64_t n, Task task, std::vector<std::string> classes = {"cat", "dog"})
      : n_(n), task_(task) {
    info_.name = std::move(name);
    info_.tasks = {task};
    if (task == Task::kClassification) info_.class_names[task] = std::move(classes);
  }
  int64_t size() const override { return n_; }
  Sample get(int64_t index) const override {
    Sample s;
    s.source = source(index);
    s.image = torch::zeros({2, 2, 3}, torch::kUInt8);
    s.labels[task_] = task_ == Task::kClassification ? one_hot(index % 2, 2) : torch::ones({1, 2, 2});
    return s;
  }
  std::string source(int64_t index) const override { return info_.name + "/" + std::to_string(index); }

 private:
  int64_t n_;
  Task task_;
};

ConcatDataset two_sources(int64_t a, int64_t b) {
  return ConcatDataset({std::make_shared<TinyDataset>("a", a, Task::kClassification),
                        std::make_shared<TinyDataset>("b", b, Task::kDepth)});
}

TEST(DatasetFraction, AFixedSubsetInIndexOrderTheSameEveryTime) {
  static const bool registered = [] {
    dataset_registry().add("tiny_for_fraction", [](const DatasetOptions&) -> std::shared_ptr<Dataset> {
      return std::make_shared<TinyDataset>("tiny", 1000, Task::kDepth);
    });
    return true;
  }();
  ASSERT_TRUE(registered);
  DatasetOptions options;
  options.format = "tiny_for_fraction";
  EXPECT_EQ(make_dataset(options)->size(), 1000);
  options.fraction = 0.1;
  const auto subset = make_dataset(options);
  ASSERT_EQ(subset->size(), 100);
  EXPECT_EQ(subset->info().name, "tiny (100 of 1000)");
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < subset->size(); ++i) {
    indices.push_back(std::stoll(subset->source(i).substr(5)));
    EXPECT_EQ(subset->get(i).source, subset->source(i));
  }
  EXPECT_TRUE(std::is_sorted(indices.begin(), indices.end()));
  EXPECT_EQ(std::set<int64_t>(indices.begin(), indices.end()).size(), 100u);
  EXPECT_GT(indices.back() - indices.front(), 500);  // spread over the whole set, not its first tenth
  const auto again = make_dataset(options);
  for (int64_t i = 0; i < again->size(); ++i) EXPECT_EQ(again->source(i), subset->source(i));
  options.subset_seed = 1;
  const auto other = make_dataset(options);
  int same = 0;
  for (int64_t i = 0; i < other->size(); ++i) same += other->source(i) == subset->source(i);
  EXPECT_LT(same, 50);
}

TEST(ConcatDataset, IndexesThePartsInOrderAndUnitesTheirTasks) {
  const ConcatDataset both = two_sources(3, 4);
  EXPECT_EQ(both.size(), 7);
  EXPECT_EQ(both.source(2), "a/2");
  EXPECT_EQ(both.source(3), "b/0");
  EXPECT_EQ(both.get(6).source, "b/3");
  EXPECT_EQ(both.info().tasks, (std::vector<Task>{Task::kClassification, Task::kDepth}));
  // Each sample keeps only the labels its source gives: the other task is absent (no loss), not zero.
  EXPECT_TRUE(both.get(0).has(Task::kClassification));
  EXPECT_FALSE(both.get(0).has(Task::kDepth));
  EXPECT_THROW(both.get(7), Error);
  // Two sources of one task must agree on its classes.
  auto first = std::make_shared<TinyDataset>("a", 2, Task::kClassification);
  EXPECT_NO_THROW(ConcatDataset({first, std::make_shared<TinyDataset>("c", 2, Task::kClassification)}));
  EXPECT_THROW(ConcatDataset({first, std::make_shared<TinyDataset>("c", 2, Task::kClassification,
                                                                   std::vector<std::string>{"dog", "cat"})}),
               Error);
}

TEST(SourceMixtureSampler, SharesFollowTheWeightsAndEverySampleComesEquallyOften) {
  const ConcatDataset both = two_sources(10, 40);
  const SourceMixtureSampler sampler(both, {3.0, 1.0}, 20);
  EXPECT_EQ(sampler.shares(), (std::vector<int64_t>{15, 5}));
  std::map<int64_t, int> seen;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {  // 8 x 15 = 12 passes over a, 8 x 5 = 1 pass over b
    const auto order = sampler.order(11, epoch);
    ASSERT_EQ(order.size(), 20u);
    int64_t from_a = 0;
    for (int64_t index : order) from_a += index < 10;
    EXPECT_EQ(from_a, 15);
    for (int64_t index : order) ++seen[index];
  }
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(seen[i], 12) << "sample a/" << i;
  for (int64_t i = 10; i < 50; ++i) EXPECT_EQ(seen[i], 1) << "sample b/" << i - 10;
  // A pure function of (seed, epoch).
  EXPECT_EQ(sampler.order(11, 3), sampler.order(11, 3));
  EXPECT_NE(sampler.order(11, 3), sampler.order(11, 4));
  EXPECT_NE(sampler.order(11, 3), sampler.order(12, 3));
  // The default epoch is the parts' sizes summed; shares by largest remainder add up exactly.
  const SourceMixtureSampler thirds(both, {1.0, 1.0}, 0);
  EXPECT_EQ(thirds.epoch_length(), 50);
  EXPECT_EQ(thirds.shares(), (std::vector<int64_t>{25, 25}));
  const SourceMixtureSampler uneven(both, {1.0, 2.0}, 10);
  EXPECT_EQ(uneven.shares(), (std::vector<int64_t>{3, 7}));
  const SourceMixtureSampler only_b(both, {0.0, 1.0}, 0);
  for (int64_t index : only_b.order(0, 0)) EXPECT_GE(index, 10);
}

TEST(SourceMixtureSampler, RefusesWeightsThatSelectNothing) {
  const ConcatDataset both = two_sources(3, 0);
  EXPECT_THROW(SourceMixtureSampler(both, {1.0}), Error);
  EXPECT_THROW(SourceMixtureSampler(both, {0.0, 0.0}), Error);
  EXPECT_THROW(SourceMixtureSampler(both, {1.0, 1.0}), Error);  // b is empty
  EXPECT_THROW(SourceMixtureSampler(both, {-1.0, 1.0}), Error);
  EXPECT_NO_THROW(SourceMixtureSampler(both, {1.0, 0.0}));
}

TEST(SourceMixtureSampler, TheLoaderShardsItsOrderAcrossRanks) {
  auto both = std::make_shared<ConcatDataset>(two_sources(6, 6));
  auto sampler = std::make_shared<SourceMixtureSampler>(*both, std::vector<double>{1.0, 1.0}, 9);
  std::multiset<int64_t> all;
  for (int64_t rank = 0; rank < 2; ++rank) {
    LoaderOptions options;
    options.batch_size = 2;
    options.workers = 0;
    options.sampler = sampler;
    options.seed = 5;
    options.rank = rank;
    options.world_size = 2;
    Loader loader(both, std::make_shared<Normalize>(), options);
    EXPECT_EQ(loader.batches_per_epoch(), 3);  // 9 padded to 10, 5 per rank
    loader.start_epoch(2);
    int64_t batches = 0;
    while (auto batch = loader.next()) {
      ++batches;
      all.insert(batch->indices.begin(), batch->indices.end());
    }
    EXPECT_EQ(batches, 3);
  }
  std::vector<int64_t> order = sampler->order(5, 2);
  std::multiset<int64_t> expected(order.begin(), order.end());
  expected.insert(order[0]);  // the padding repeats the start
  EXPECT_EQ(all, expected);
}

}  // namespace
}  // namespace must::data
