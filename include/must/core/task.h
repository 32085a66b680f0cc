// The five tasks of MuST and the one table that describes each of them (docs/architecture.md).
//
// Transforms, collate, loss masking, pseudo-label encoding and metric summaries read this table instead of
// branching on task names: add a fact here rather than an `if (task == ...)` elsewhere.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace must {

enum class Task { kClassification, kDetection, kSegmentation, kDepth, kNormals };
inline constexpr size_t kNumTasks = 5;

// What a target of the task is.
enum class TargetKind {
  kClassVector,    // one (soft) probability vector per image
  kBoxes,          // a variable-length set of boxes with class labels
  kClassMap,       // one class index per pixel
  kFloatMap,       // one float per pixel
  kUnitVectorMap,  // a unit 3-vector per pixel
};

// How a dense target is resampled when the image is resized.
enum class ResizeRule {
  kNone,            // not a map (class vector, boxes: boxes are scaled, not resampled)
  kNearest,         // class maps: never invent a class between two others
  kLinearValidOnly  // float maps: interpolate, but never mix valid and invalid pixels
};

// What a horizontal flip of the image does to the target.
enum class FlipRule {
  kNone,             // image-level label
  kMirrorBoxes,      // x1' = W - x2, x2' = W - x1
  kMirrorMap,        // mirror columns
  kMirrorMapNegateX  // mirror columns and negate the x component (surface normals)
};

struct TaskSpec {
  Task task;
  std::string_view name;           // stable key in configs, losses (`loss/<name>/...`) and metrics
  TargetKind target;
  int channels;                    // channels of a dense target; 0 = the dataset's number of classes
  ResizeRule resize;
  FlipRule flip;
  double ignore_value;             // the target value that marks "no label here"
  std::string_view store_suffix;   // member suffix in the pseudo-label store (docs/formats.md)
  std::string_view headline_metric;
  bool higher_is_better;           // of the headline metric
  std::string_view default_loss;   // registered loss used when a config names none
};

// The table, in enum order.
const std::array<TaskSpec, kNumTasks>& task_table();
const TaskSpec& task_spec(Task task);
std::string_view task_name(Task task);
// Throws must::ConfigError listing the known names when `name` is not one.
Task task_from_name(std::string_view name);

}  // namespace must
