#include <gtest/gtest.h>

#include <set>

#include "must/core/check.h"
#include "must/core/task.h"

namespace must {
namespace {

TEST(TaskTable, IsInEnumOrderWithUniqueNames) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kNumTasks; ++i) {
    EXPECT_EQ(static_cast<size_t>(task_table()[i].task), i);
    names.insert(task_table()[i].name);
  }
  EXPECT_EQ(names.size(), kNumTasks);
}

TEST(TaskTable, EncodesThePerTaskRules) {
  EXPECT_EQ(task_spec(Task::kSegmentation).resize, ResizeRule::kNearest);
  EXPECT_EQ(task_spec(Task::kSegmentation).ignore_value, 255.0);
  EXPECT_EQ(task_spec(Task::kDepth).resize, ResizeRule::kLinearValidOnly);
  EXPECT_EQ(task_spec(Task::kNormals).flip, FlipRule::kMirrorMapNegateX);
  EXPECT_EQ(task_spec(Task::kNormals).channels, 3);
  EXPECT_EQ(task_spec(Task::kDetection).flip, FlipRule::kMirrorBoxes);
  EXPECT_EQ(task_spec(Task::kClassification).target, TargetKind::kClassVector);
  EXPECT_FALSE(task_spec(Task::kDepth).higher_is_better);
}

TEST(TaskTable, NamesRoundTrip) {
  for (const auto& spec : task_table()) EXPECT_EQ(task_from_name(spec.name), spec.task);
}

TEST(TaskTable, UnknownNameSuggestsAndListsKnownOnes) {
  try {
    task_from_name("segmentaton");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("did you mean 'segmentation'"), std::string::npos) << message;
    EXPECT_NE(message.find("classification, detection, segmentation, depth, normals"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace must
