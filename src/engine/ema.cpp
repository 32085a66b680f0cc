#include "must/engine/ema.h"

#include <torch/torch.h>

#include <map>

#include "must/core/check.h"

namespace must::engine {

ModelEma::ModelEma(const torch::nn::Module& module, double decay) : decay_(decay) {
  MUST_CHECK(decay > 0 && decay < 1, "EMA decay must lie in (0, 1), got ", decay);
  for (const auto& [name, tensor] : models::module_state_dict(module)) state_.emplace_back(name, tensor.detach().clone());
}

void ModelEma::update(const torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  const models::StateDict current = models::module_state_dict(module);
  MUST_CHECK(current.size() == state_.size(), "the module changed shape since its EMA was made");
  for (size_t i = 0; i < state_.size(); ++i) {
    torch::Tensor& average = state_[i].second;
    const torch::Tensor& value = current[i].second;
    if (average.is_floating_point()) {
      average.mul_(decay_).add_(value.detach(), 1 - decay_);
    } else {
      average.copy_(value);
    }
  }
}

void ModelEma::load(const models::StateDict& saved) {
  std::map<std::string, torch::Tensor> by_name(saved.begin(), saved.end());
  torch::NoGradGuard no_grad;
  for (auto& [name, average] : state_) {
    const auto found = by_name.find(name);
    MUST_CHECK(found != by_name.end(), "the saved EMA lacks '", name, "'");
    MUST_CHECK(found->second.sizes() == average.sizes(), "the saved EMA's '", name, "' has shape ",
               found->second.sizes(), ", the model's ", average.sizes());
    average.copy_(found->second);
  }
}

void ModelEma::swap_into(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  const models::StateDict current = models::module_state_dict(module);
  MUST_CHECK(current.size() == state_.size(), "the module changed shape since its EMA was made");
  for (size_t i = 0; i < state_.size(); ++i) {
    const torch::Tensor held = current[i].second.detach().clone();
    current[i].second.detach().copy_(state_[i].second);
    state_[i].second.copy_(held);
  }
}

}  // namespace must::engine
