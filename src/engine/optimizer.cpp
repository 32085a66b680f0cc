#include "must/engine/optimizer.h"

#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"

namespace must::engine {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& module, const OptimizerOptions& options) {
  std::vector<torch::Tensor> decayed, not_decayed;
  for (const auto& parameter : module.parameters()) {
    if (!parameter.requires_grad()) continue;
    (parameter.dim() <= 1 && !options.decay_norm_and_bias ? not_decayed : decayed).push_back(parameter);
  }
  MUST_CHECK(!decayed.empty() || !not_decayed.empty(), "the model has no trainable parameter");
  auto groups = [&](auto base) {
    std::vector<torch::optim::OptimizerParamGroup> out;
    auto with_decay = std::make_unique<decltype(base)>(base);
    out.emplace_back(decayed, std::move(with_decay));
    auto without = std::make_unique<decltype(base)>(base);
    without->weight_decay(0.0);
    out.emplace_back(not_decayed, std::move(without));
    return out;
  };
  if (options.type == "sgd") {
    const auto base = torch::optim::SGDOptions(options.lr)
                          .momentum(options.momentum)
                          .nesterov(options.nesterov)
                          .weight_decay(options.weight_decay);
    return std::make_unique<torch::optim::SGD>(groups(base), base);
  }
  if (options.type == "adamw") {
    const auto base = torch::optim::AdamWOptions(options.lr)
                          .betas({options.betas[0], options.betas[1]})
                          .eps(options.eps)
                          .weight_decay(options.weight_decay);
    return std::make_unique<torch::optim::AdamW>(groups(base), base);
  }
  MUST_THROW(ConfigError, "unknown optimizer '", options.type, "'; known: adamw, sgd");
}

double lr_factor(const LrScheduleOptions& o, int64_t iteration, int64_t max_iterations) {
  const double t = double(iteration), total = double(std::max<int64_t>(max_iterations, 1));
  double decay = 1.0;
  if (o.type == "cosine") {
    decay = o.final_factor + (1 - o.final_factor) * 0.5 * (1 + std::cos(M_PI * std::min(t / total, 1.0)));
  } else if (o.type == "step") {
    for (int64_t step : o.steps) {
      if (iteration >= step) decay *= o.gamma;
    }
  } else if (o.type == "poly") {
    decay = std::pow(std::max(0.0, 1 - t / total), o.power);
  } else if (o.type != "constant") {
    MUST_THROW(ConfigError, "unknown learning-rate schedule '", o.type, "'; known: constant, cosine, poly, step");
  }
  if (iteration < o.warmup_iterations) {
    const double alpha = t / double(o.warmup_iterations);
    decay *= o.warmup_factor * (1 - alpha) + alpha;
  }
  return decay;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double base_lr, double factor) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(base_lr * factor);
}

}  // namespace must::engine
