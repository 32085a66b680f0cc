#include "must/core/task.h"

#include <vector>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must {

const std::array<TaskSpec, kNumTasks>& task_table() {
  // ignore values: 255 is the class-map void label of VOC/ADE20K/Cityscapes; 0 is "no reading" for depth
  // (NYU, DIODE) and the zero vector marks an invalid normal (DIODE).
  static const std::array<TaskSpec, kNumTasks> table = {{
      {Task::kClassification, "classification", TargetKind::kClassVector, 0, ResizeRule::kNone, FlipRule::kNone,
       -1.0, "cls.npy", "top1", true, "soft_cross_entropy"},
      {Task::kDetection, "detection", TargetKind::kBoxes, 0, ResizeRule::kNone, FlipRule::kMirrorBoxes, -1.0,
       "det.json", "AP", true, "faster_rcnn"},
      {Task::kSegmentation, "segmentation", TargetKind::kClassMap, 0, ResizeRule::kNearest, FlipRule::kMirrorMap,
       255.0, "seg.png", "mIoU", true, "cross_entropy"},
      {Task::kDepth, "depth", TargetKind::kFloatMap, 1, ResizeRule::kLinearValidOnly, FlipRule::kMirrorMap, 0.0,
       "depth.npy", "AbsRel", false, "l1"},
      {Task::kNormals, "normals", TargetKind::kUnitVectorMap, 3, ResizeRule::kLinearValidOnly,
       FlipRule::kMirrorMapNegateX, 0.0, "normal.npy", "mean_angle", false, "cosine"},
  }};
  return table;
}

const TaskSpec& task_spec(Task task) { return task_table()[static_cast<size_t>(task)]; }

std::string_view task_name(Task task) { return task_spec(task).name; }

Task task_from_name(std::string_view name) {
  std::vector<std::string> known;
  for (const auto& spec : task_table()) {
    if (spec.name == name) return spec.task;
    known.emplace_back(spec.name);
  }
  const std::string hint = nearest_name(name, known);
  MUST_THROW(ConfigError, "unknown task '", name, "'", hint.empty() ? "" : " (did you mean '" + hint + "'?)",
             "; known tasks: ", join(known));
}

}  // namespace must
