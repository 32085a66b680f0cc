// Optimizers and the learning-rate schedule of the `train:` section.
//   sgd    momentum, optional Nesterov (torch.optim.SGD)          adamw  decoupled weight decay (torch.optim.AdamW)
// Weight decay is not applied to 1-D parameters — batch/group norm scales and shifts, biases — unless asked (the
// usual recipe: timm, detectron2's WEIGHT_DECAY_NORM = 0). Frozen parameters are left out.
//
// Schedule: a linear warm-up from warmup_factor to 1 over warmup_iterations (detectron2's WarmupParamScheduler),
// times the decay: constant; cosine 0.5 (1 + cos(pi t / T)) down to final_factor; step (x gamma at each of `steps`);
// poly (1 - t / T)^power. t counts completed steps, T = max iterations.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace must::engine {

struct OptimizerOptions {
  std::string type = "sgd";             // sgd or adamw
  double lr = 0.01;                     // base learning rate
  double momentum = 0.9;                // sgd
  bool nesterov = false;                // sgd
  double weight_decay = 1e-4;
  std::array<double, 2> betas{0.9, 0.999};  // adamw
  double eps = 1e-8;                    // adamw
  bool decay_norm_and_bias = false;     // also decay 1-D parameters
  // Parameters whose name starts with a key learn at lr x its value (the longest matching key wins): a fine-tuned
  // backbone's smaller rate ({"model.backbone.", 0.1}). The others learn at lr.
  std::map<std::string, double> lr_multipliers;
};

// Two groups per learning-rate multiplier, 1 first, then lr_multipliers' in key order: the parameters with weight
// decay, then the 1-D parameters without it (when decay_norm_and_bias is false); a group may be empty.
// Throws must::ConfigError for an unknown type, must::Error when the module has nothing to train.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& module, const OptimizerOptions& options);

struct LrScheduleOptions {
  std::string type = "cosine";   // constant, cosine, step or poly
  int64_t warmup_iterations = 0;
  double warmup_factor = 0.001;  // the multiplier at step 0
  std::vector<int64_t> steps;    // step: iterations where the rate is multiplied by gamma
  double gamma = 0.1;
  double power = 0.9;            // poly
  double final_factor = 0.0;     // cosine: the multiplier reached at the last step
};

// The learning-rate multiplier for the step that follows `iteration` completed steps of `max_iterations`.
double lr_factor(const LrScheduleOptions& options, int64_t iteration, int64_t max_iterations);
// Sets every parameter group's rate to options.lr x `factor` x the group's multiplier (make_optimizer's groups).
void set_learning_rate(torch::optim::Optimizer& optimizer, const OptimizerOptions& options, double factor);

}  // namespace must::engine
