// A batch's targets, per task, with the presence bit of each sample (docs/architecture.md: partial labels are first
// class; a sample without a task's label contributes no loss for it, never a zero label).
//
// Layouts (B = batch):
//   classification  values [B, C] float probabilities (one-hot for hard labels)
//   segmentation    values [B, H, W] int64 class indices, 255 = ignore
//   depth           values [B, 1, H, W] float metres, 0 = invalid
//   normals         values [B, 3, H, W] float unit vectors, (0, 0, 0) = invalid
//   detection       instances: one Instances per sample (boxes, 0-based labels, ignore flags); values unused
#pragma once

#include <torch/types.h>

#include <map>
#include <vector>

#include "must/core/task.h"
#include "must/structures/instances.h"

namespace must::structures {

struct TaskTargets {
  torch::Tensor values;
  torch::Tensor present;  // [B] bool: which samples carry this task's label
  std::vector<Instances> instances;  // detection only, [B]

  // A copy whose defined tensors are fn(tensor).
  template <class Fn>
  TaskTargets map(const Fn& fn) const {
    TaskTargets out;
    if (values.defined()) out.values = fn(values);
    if (present.defined()) out.present = fn(present);
    for (const auto& image : instances) out.instances.push_back(image.map(fn));
    return out;
  }
};

struct Targets {
  std::map<Task, TaskTargets> tasks;
  bool has(Task task) const { return tasks.count(task) != 0; }
  template <class Fn>
  Targets map(const Fn& fn) const {
    Targets out;
    for (const auto& [task, targets] : tasks) out.tasks.emplace(task, targets.map(fn));
    return out;
  }
  // A copy on `device` (the training loop moves each batch's targets with its images). non_blocking: the copy
  // returns before it is done, which only a copy from pinned memory to a GPU does (torch's .to(non_blocking)).
  Targets to(const torch::Device& device, bool non_blocking = false) const {
    return map([&](const torch::Tensor& t) { return t.to(device, non_blocking); });
  }
  // A copy in page-locked host memory (torch's pin_memory, which needs CUDA): the loader's workers pin each
  // batch so that the training thread's copy to the GPU is an asynchronous DMA.
  Targets pinned() const {
    return map([](const torch::Tensor& t) { return t.pin_memory(); });
  }
};

}  // namespace must::structures
