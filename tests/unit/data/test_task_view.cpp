#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/data/task_view.h"

namespace must::data {
namespace {

// Five samples labelled for classification, detection and depth; sample i's class is i.
class Labelled final : public Dataset {
 public:
  Labelled() {
    info_.name = "labelled";
    info_.tasks = {Task::kClassification, Task::kDetection, Task::kDepth};
  }
  int64_t size() const override { return 5; }
  Sample get(int64_t index) const override {
    Sample sample;
    sample.source = "image" + std::to_string(index);
    sample.labels[Task::kClassification] = torch::full({1}, double(index));
    sample.labels[Task::kDepth] = torch::ones({1, 2, 2});
    sample.instances = structures::Instances{torch::zeros({1, 4}), torch::zeros({1}, torch::kLong), {}, {}, {}};
    return sample;
  }
};

TEST(TaskView, KeepsTheTasksAskedForAndTheRangeAskedFor) {
  const auto dataset = std::make_shared<Labelled>();
  const TaskView depth_only(dataset, {Task::kDepth});
  EXPECT_EQ(depth_only.size(), 5);
  EXPECT_EQ(depth_only.info().tasks, std::vector<Task>{Task::kDepth});
  const Sample sample = depth_only.get(3);
  EXPECT_TRUE(sample.has(Task::kDepth));
  EXPECT_FALSE(sample.has(Task::kClassification));
  EXPECT_FALSE(sample.has(Task::kDetection));

  const TaskView images(dataset, {}, 2, 2);  // samples 2 and 3, no labels
  EXPECT_EQ(images.size(), 2);
  EXPECT_TRUE(images.info().tasks.empty());
  EXPECT_EQ(images.source(1), "image3");
  const Sample third = images.get(1);
  EXPECT_EQ(third.source, "image3");
  EXPECT_TRUE(third.labels.empty());
  EXPECT_FALSE(third.instances.has_value());

  const TaskView boxes(dataset, {Task::kDetection, Task::kClassification}, 4);
  EXPECT_EQ(boxes.size(), 1);
  const Sample last = boxes.get(0);
  EXPECT_TRUE(last.has(Task::kDetection));
  EXPECT_EQ(last.labels.at(Task::kClassification).item<double>(), 4.0);
  EXPECT_FALSE(last.has(Task::kDepth));

  EXPECT_THROW(TaskView(dataset, {}, 3, 3), Error);  // past the end
}

}  // namespace
}  // namespace must::data
