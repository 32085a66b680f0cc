// What the training loop optimises: the model and the loss weighting under one root module, so the weighting's
// own parameters (uncertainty's log-variances) are in the optimizer, the checkpoint and the weights broadcast
// with the model's. Parameter names: model.* (the model's own names, which model_final.safetensors keeps without
// the prefix) and weighting.*.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <memory>

#include "must/losses/loss_weighting.h"
#include "must/losses/task_losses.h"
#include "must/models/multi_task_model.h"
#include "must/structures/image_list.h"
#include "must/structures/targets.h"

namespace must::engine {

struct StepLosses {
  losses::LossDict terms;                // every head's "loss/<task>/<term>"
  std::map<Task, torch::Tensor> tasks;   // the terms summed per task
  torch::Tensor total;                   // what the weighting makes of them
};

class TrainModuleImpl : public torch::nn::Module {
 public:
  TrainModuleImpl(models::MultiTaskModel model, std::shared_ptr<losses::LossWeightingImpl> weighting);
  // The losses of one batch (the model in training mode, targets on the model's device).
  StepLosses forward(const structures::ImageList& images, const structures::Targets& targets);
  // Every head in backward, whatever the batch labels: a head without a loss adds 0 x its prediction to the
  // total. Synchronised batch norm needs it (its backward is a collective every rank must make); the cost is the
  // backward of heads that learn nothing from the batch, and zero gradients (not none) for their parameters.
  void put_every_head_in_backward(bool on) { every_head_in_backward_ = on; }

  models::MultiTaskModel model{nullptr};
  std::shared_ptr<losses::LossWeightingImpl> weighting;

 private:
  bool every_head_in_backward_ = false;
};
TORCH_MODULE(TrainModule);

}  // namespace must::engine
