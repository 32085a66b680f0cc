// An exponential moving average of a module's weights (timm's ModelEmaV2, the "EMA" of detectron2 projects):
// after each optimizer step, every floating-point parameter and buffer e <- decay e + (1 - decay) v; integer
// buffers (batch norm's counter) are copied. The average is evaluated and saved beside the raw weights.
#pragma once

#include <torch/nn/module.h>

#include "must/models/state_dict_file.h"

namespace must::engine {

class ModelEma {
 public:
  ModelEma(const torch::nn::Module& module, double decay);
  void update(const torch::nn::Module& module);
  // The averaged tensors, with the module's names.
  const models::StateDict& state() const { return state_; }
  // Restores saved averages (a checkpoint's); throws must::Error naming a missing or mis-shaped tensor.
  void load(const models::StateDict& saved);
  // Exchanges the module's values with the averages (call again to swap back): to evaluate or export the EMA.
  void swap_into(torch::nn::Module& module);
  double decay() const { return decay_; }

 private:
  double decay_;
  models::StateDict state_;
};

}  // namespace must::engine
