#include "must/engine/optimizer.h"

#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"

namespace must::engine {

namespace {

// The learning-rate multiplier of each parameter group, in make_optimizer's order.
std::vector<double> group_multipliers(const OptimizerOptions& options) {
  std::vector<double> out = {1.0, 1.0};
  for (const auto& entry : options.lr_multipliers) out.insert(out.end(), 2, entry.second);
  return out;
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& module, const OptimizerOptions& options) {
  // Per multiplier (1, then lr_multipliers' in key order): decayed, then not decayed.
  std::vector<std::vector<torch::Tensor>> members(2 * (1 + options.lr_multipliers.size()));
  bool any = false;
  for (const auto& item : module.named_parameters()) {
    const torch::Tensor& parameter = item.value();
    if (!parameter.requires_grad()) continue;
    size_t set = 0, index = 1, longest = 0;
    for (const auto& entry : options.lr_multipliers) {
      const std::string& prefix = entry.first;
      if (item.key().rfind(prefix, 0) == 0 && prefix.size() >= longest) set = index, longest = prefix.size();
      ++index;
    }
    const bool decayed = parameter.dim() > 1 || options.decay_norm_and_bias;
    members[2 * set + (decayed ? 0 : 1)].push_back(parameter);
    any = true;
  }
  MUST_CHECK(any, "the model has no trainable parameter");
  const std::vector<double> multipliers = group_multipliers(options);
  auto groups = [&](auto base) {
    std::vector<torch::optim::OptimizerParamGroup> out;
    for (size_t g = 0; g < members.size(); ++g) {
      auto group_options = std::make_unique<decltype(base)>(base);
      group_options->lr(options.lr * multipliers[g]);
      if (g % 2 == 1) group_options->weight_decay(0.0);
      out.emplace_back(members[g], std::move(group_options));
    }
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

void set_learning_rate(torch::optim::Optimizer& optimizer, const OptimizerOptions& options, double factor) {
  const std::vector<double> multipliers = group_multipliers(options);
  MUST_CHECK(optimizer.param_groups().size() == multipliers.size(), "the optimizer has ",
             optimizer.param_groups().size(), " parameter groups; its options give ", multipliers.size());
  for (size_t g = 0; g < multipliers.size(); ++g) {
    optimizer.param_groups()[g].options().set_lr(options.lr * factor * multipliers[g]);
  }
}

}  // namespace must::engine
