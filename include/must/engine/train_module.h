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

  models::MultiTaskModel model{nullptr};
  std::shared_ptr<losses::LossWeightingImpl> weighting;
};
TORCH_MODULE(TrainModule);

}  // namespace must::engine
