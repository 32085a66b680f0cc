// Per-task losses (docs/architecture.md). Every loss masks what carries no label — samples whose presence bit is off,
// ignore pixels, invalid depth or normals — averages over what remains, and returns a zero that carries no
// gradient when nothing is left (never NaN, never a "zero label").
//
// Registered names (a config picks one per task; the task table gives the default):
//   soft_cross_entropy  classification: -sum_c q_c log softmax(z / T)_c, mean over labelled samples
//   cross_entropy       segmentation: per-pixel CE, mean over labelled pixels (ignore value from the task table)
//   l1                  depth: |d - g| over valid pixels
//   silog               depth: scale-invariant log error (Eigen et al. 2014), sqrt(mean(e^2) - lambda mean(e)^2),
//                       e = log d - log g over the batch's valid pixels
//   ssi                 depth: scale-and-shift-invariant L1 (MiDaS, Ranftl et al. 2020): per image, the least-
//                       squares s, t fit s d + t to g, then |s d + t - g| over valid pixels
//   ssi_inverse         depth: ssi of 1 / d (d >= 1e-3) against labels of inverse relative depth (a MiDaS-style
//                       teacher's disparity)
//   cosine              normals: 1 - <n, g / |g|> over valid pixels (prediction already unit length)
#pragma once

#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "must/core/registry.h"
#include "must/core/task.h"
#include "must/structures/targets.h"

namespace must::losses {

// Loss terms keyed "loss/<task>/<term>", each a scalar.
using LossDict = std::map<std::string, torch::Tensor>;

// "loss/<task>/<term>": the one way a loss key is built.
std::string loss_key(Task task, std::string_view term);
// The terms of `losses` summed per task (the key's middle part), what the loss weighting combines. Throws
// must::Error naming a key that is not "loss/<task>/<term>".
std::map<Task, torch::Tensor> losses_by_task(const LossDict& losses);

struct LossOptions {
  std::string type;             // registered name; "" = the task's default
  double temperature = 1.0;     // soft_cross_entropy: logits are divided by it
  double variance_focus = 0.85; // silog: lambda
};

class TaskLoss {
 public:
  virtual ~TaskLoss() = default;
  virtual LossDict operator()(const torch::Tensor& prediction, const structures::TaskTargets& targets) const = 0;
  // The loss of the prediction bilinear-upsampled (align_corners = false) from `low_resolution` to the targets'
  // size, for heads that predict at a stride and whose prediction is that upsampling. cross_entropy computes it
  // without forming the full-resolution map (cross_entropy_upsampled); the others upsample, then apply themselves.
  virtual LossDict of_upsampled(const torch::Tensor& low_resolution, const structures::TaskTargets& targets) const = 0;
};

using TaskLossRegistry = Registry<std::unique_ptr<TaskLoss>, Task, const LossOptions&>;
TaskLossRegistry& task_loss_registry();
// Builds the loss a config asks for (the task's default when options.type is empty). Throws must::ConfigError
// when the loss does not fit the task's targets.
std::unique_ptr<TaskLoss> make_task_loss(Task task, const LossOptions& options);

// The functions behind the registered losses. `present` is [B] bool.
torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& probabilities,
                                 const torch::Tensor& present, double temperature = 1.0);
torch::Tensor cross_entropy_map(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& present,
                                int64_t ignore_index = 255);
// cross_entropy_map(bilinear upsampling of `logits` [B, C, h, w] to the labels' [H, W], labels, ...), computed
// on CPU without forming the upsampled logits: forward + backward for 150 classes, batch 8, 56x56 -> 224x224
// take 0.16 s instead of ATen's 0.49-0.55 s on 2 cores (must_bench_model --which segmentation_loss; ATen's ops cost
// 0.74 s inside a ResNet-50-FPN training step). Float on CPU only; other devices and
// types take ATen's upsample + cross_entropy_map. Throws must::Error for a label outside [0, C) that is not
// `ignore_index`.
torch::Tensor cross_entropy_upsampled(const torch::Tensor& logits, const torch::Tensor& labels,
                                      const torch::Tensor& present, int64_t ignore_index = 255);
torch::Tensor depth_l1(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present);
torch::Tensor depth_silog(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present,
                          double variance_focus = 0.85);
torch::Tensor depth_ssi(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present);
torch::Tensor normal_cosine(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present);

}  // namespace must::losses
