// How the per-task losses of the student add up (docs/architecture.md). Separate from the losses themselves; the
// weights in force are reported for logging.
//   fixed        total = sum_i w_i L_i, weights from the config (1 when not given)
//   paper        MuST's rule: w_i = (b_s lr_i) / (b_i lr_s), from each teacher's batch size b_i and learning
//                rate lr_i and the student's b_s, lr_s (Ghiasi et al. 2021, Sec. 3.3)
//   uncertainty  learned log-variances s_i (Kendall et al. 2018; LibMTL's form):
//                total = sum_i L_i / (2 exp(s_i)) + s_i / 2; the weight in force is 1 / (2 exp(s_i))
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "must/core/registry.h"
#include "must/core/task.h"

namespace must::losses {

struct WeightingOptions {
  std::string type = "fixed";
  std::vector<Task> tasks;                // the student's tasks (uncertainty has one parameter each)
  std::map<Task, double> weights;         // fixed
  std::map<Task, double> teacher_batch_size, teacher_lr;  // paper
  double student_batch_size = 0, student_lr = 0;          // paper
};

class LossWeightingImpl : public torch::nn::Module {
 public:
  // One scalar loss per task present in this batch; tasks absent from the map contribute nothing.
  virtual torch::Tensor forward(const std::map<Task, torch::Tensor>& task_losses) = 0;
  virtual std::map<Task, double> weights() const = 0;
};

using WeightingRegistry = Registry<std::shared_ptr<LossWeightingImpl>, const WeightingOptions&>;
WeightingRegistry& weighting_registry();  // fixed, paper, uncertainty

}  // namespace must::losses
