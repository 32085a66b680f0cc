// A teacher of any architecture, exported from PyTorch with torch.jit.script or torch.jit.trace and run by
// LibTorch's TorchScript interpreter (docs/own_teachers.md). The module's contract, per task:
//
//   input   float32 [N, 3, H, W] RGB, (pixel / 255 - mean) / std with the teacher entry's own mean and std, each
//           image resized (bilinear, half-pixel centres, no antialiasing) to the entry's `size`, or as the batch
//           holds it (then padded at the bottom and right to the batch's size). Detection: a List[Tensor] of
//           [3, h_i, w_i], each image alone, as torchvision's detectors take them.
//   output  classification  logits [N, C]
//           segmentation    logits [N, C, h, w]
//           depth           [N, 1, h, w] or [N, h, w]: metres, or relative / inverse relative (the entry's `depth`)
//           normals         [N, 3, h, w]
//           detection       torchvision's List[Dict[str, Tensor]]: boxes [K, 4] (x1, y1, x2, y2 in the input's
//                           pixels), labels [K] (1..C; 0 is torchvision's background), scores [K]; or a scripted
//                           torchvision detector's (losses, detections) tuple
//           A tensor may also come as a tuple's or list's first element, or as a dict's "out" (torchvision's
//           segmentation models). Dense maps of any size cover the whole input; they are resized (bilinear) back
//           onto the image's pixels.
//
// forward() gives MultiTaskModel's output layout over the batch's pixels, so that the pseudo-labeller's policy,
// flip and geometry apply to it unchanged.
#pragma once

#include <torch/types.h>

#include <array>
#include <filesystem>
#include <memory>
#include <vector>

#include "must/core/task.h"
#include "must/models/multi_task_model.h"

namespace c10 {
struct IValue;
}
namespace torch::jit {
struct Module;
}

namespace must::models {

// Loads a shared library of TorchScript operators, as torch.ops.load_library does: torchvision's (its Python
// package's _C.so, or libtorchvision.so of a C++ build) for the nms and roi_align of its exported detectors. Throws
// must::Error naming the file when it does not load.
void load_operator_library(const std::filesystem::path& library);

struct ScriptTeacherOptions {
  std::filesystem::path file;
  Task task = Task::kClassification;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // the module's input normalisation, on 0..1 pixels
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  std::array<int64_t, 2> size{0, 0};  // [H, W] each image is resized to; {0, 0}: as the batch holds it
  // The normalisation the batch's images carry (data.augment's), undone first.
  std::array<float, 3> batch_mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> batch_std{0.229f, 0.224f, 0.225f};
};

class ScriptTeacher {
 public:
  // Loads the module in eval mode. Throws must::Error naming the file when it does not load.
  explicit ScriptTeacher(ScriptTeacherOptions options);
  ~ScriptTeacher();
  ScriptTeacher(ScriptTeacher&&) noexcept;
  ScriptTeacher& operator=(ScriptTeacher&&) noexcept;

  void to(const torch::Device& device);
  // `images`: [N, 3, H, W] normalised with batch_mean / batch_std, image i in [:, :h_i, :w_i] of `sizes`. Throws
  // must::Error naming the file when the module's output breaks the contract.
  ModelOutput forward(const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes);

 private:
  ScriptTeacherOptions options_;
  std::unique_ptr<torch::jit::Module> module_;

  torch::Tensor module_input(const torch::Tensor& images) const;  // renormalised
  c10::IValue run_module(std::vector<c10::IValue> inputs);        // errors name the file
  ModelOutput detections(const torch::Tensor& input, const std::vector<std::array<int64_t, 2>>& sizes);
  torch::Tensor tensor_output(const torch::Tensor& input, const std::vector<std::array<int64_t, 2>>& sizes);
};

}  // namespace must::models
