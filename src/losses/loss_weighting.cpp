#include "must/losses/loss_weighting.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::losses {
namespace {

torch::Tensor weighted_sum(const std::map<Task, torch::Tensor>& losses, const std::map<Task, double>& weights) {
  MUST_CHECK(!losses.empty(), "no task loss to combine");
  torch::Tensor total;
  for (const auto& [task, loss] : losses) {
    auto w = weights.find(task);
    const double weight = w == weights.end() ? 1.0 : w->second;
    total = total.defined() ? total + weight * loss : weight * loss;
  }
  return total;
}

class FixedWeighting final : public LossWeightingImpl {
 public:
  explicit FixedWeighting(std::map<Task, double> weights) : weights_(std::move(weights)) {}
  torch::Tensor forward(const std::map<Task, torch::Tensor>& losses) override { return weighted_sum(losses, weights_); }
  std::map<Task, double> weights() const override { return weights_; }

 private:
  std::map<Task, double> weights_;
};

// The config's weights, 1 for each task it does not name; a weight for a task not learnt is a mistake.
std::map<Task, double> fixed_weights(const WeightingOptions& o) {
  std::map<Task, double> weights;
  for (Task task : o.tasks) weights[task] = 1.0;
  for (const auto& [task, weight] : o.weights) {
    if (!o.tasks.empty() && !weights.count(task)) {
      MUST_THROW(ConfigError, "a loss weight for ", task_name(task), ", which the model does not learn");
    }
    weights[task] = weight;
  }
  return weights;
}

std::map<Task, double> paper_weights(const WeightingOptions& o) {
  MUST_CHECK(o.student_batch_size > 0 && o.student_lr > 0,
             "paper loss weighting needs the student's batch size and learning rate, got ", o.student_batch_size,
             " and ", o.student_lr);
  std::map<Task, double> weights;
  for (Task task : o.tasks) {
    auto b = o.teacher_batch_size.find(task);
    auto lr = o.teacher_lr.find(task);
    if (b == o.teacher_batch_size.end() || lr == o.teacher_lr.end() || b->second <= 0 || lr->second <= 0) {
      MUST_THROW(ConfigError, "paper loss weighting needs the ", task_name(task),
                 " teacher's positive batch size and learning rate");
    }
    weights[task] = (o.student_batch_size * lr->second) / (b->second * o.student_lr);
  }
  return weights;
}

class UncertaintyWeighting final : public LossWeightingImpl {
 public:
  explicit UncertaintyWeighting(std::vector<Task> tasks) : tasks_(std::move(tasks)) {
    MUST_CHECK(!tasks_.empty(), "uncertainty weighting needs the list of tasks");
    log_variances_ = register_parameter("log_variances", torch::zeros({int64_t(tasks_.size())}));
  }
  torch::Tensor forward(const std::map<Task, torch::Tensor>& losses) override {
    MUST_CHECK(!losses.empty(), "no task loss to combine");
    torch::Tensor total;
    for (const auto& [task, loss] : losses) {
      const torch::Tensor s = log_variances_[index(task)];
      const torch::Tensor term = loss / (2 * s.exp()) + s / 2;
      total = total.defined() ? total + term : term;
    }
    return total;
  }
  std::map<Task, double> weights() const override {
    std::map<Task, double> out;
    for (size_t i = 0; i < tasks_.size(); ++i) out[tasks_[i]] = 0.5 * std::exp(-log_variances_[int64_t(i)].item<double>());
    return out;
  }

 private:
  int64_t index(Task task) const {
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (tasks_[i] == task) return int64_t(i);
    }
    MUST_THROW(Error, "uncertainty weighting has no parameter for task ", task_name(task));
  }
  std::vector<Task> tasks_;
  torch::Tensor log_variances_;
};

}  // namespace

WeightingRegistry& weighting_registry() {
  static WeightingRegistry* registry = [] {
    auto* r = new WeightingRegistry("loss weighting");
    r->add("fixed", [](const WeightingOptions& o) { return std::make_shared<FixedWeighting>(fixed_weights(o)); });
    r->add("paper", [](const WeightingOptions& o) { return std::make_shared<FixedWeighting>(paper_weights(o)); });
    r->add("uncertainty", [](const WeightingOptions& o) { return std::make_shared<UncertaintyWeighting>(o.tasks); });
    return r;
  }();
  return *registry;
}

}  // namespace must::losses
