#include "must/engine/train_module.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::engine {

TrainModuleImpl::TrainModuleImpl(models::MultiTaskModel model_, std::shared_ptr<losses::LossWeightingImpl> weighting_) {
  model = register_module("model", std::move(model_));
  weighting = register_module("weighting", std::move(weighting_));
}

StepLosses TrainModuleImpl::forward(const structures::ImageList& images, const structures::Targets& targets) {
  StepLosses out;
  models::ModelOutput output = model->forward(images, &targets);
  out.terms = std::move(output.losses);
  MUST_CHECK(!out.terms.empty(), "the batch carries no label of the model's tasks");
  out.tasks = losses::losses_by_task(out.terms);
  out.total = weighting->forward(out.tasks);
  if (every_head_in_backward_) {
    for (const auto& [task, prediction] : output.predictions) {
      if (!out.tasks.count(task) && prediction.requires_grad()) out.total = out.total + 0 * prediction.sum();
    }
  }
  return out;
}

}  // namespace must::engine
