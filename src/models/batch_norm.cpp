#include "must/models/batch_norm.h"

#include <torch/torch.h>

namespace must::models {
namespace {

// The sum over the ranks as an autograd node: its gradient is the sum over the ranks of the output's gradients
// (each rank's loss depends on every rank's input through the sum).
class CrossRankSumFunction : public torch::autograd::Function<CrossRankSumFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& local,
                               CrossRankSum* ranks) {
    context->saved_data["ranks"] = reinterpret_cast<int64_t>(ranks);
    return ranks->sum(local);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* context,
                                               torch::autograd::tensor_list gradients) {
    auto* ranks = reinterpret_cast<CrossRankSum*>(context->saved_data["ranks"].toInt());
    return {ranks->sum(gradients[0].contiguous()), torch::Tensor()};
  }
};

}  // namespace

BatchNorm2dImpl::BatchNorm2dImpl(BatchNorm2dOptions options) : options_(options) {
  const int64_t c = options.channels();
  weight = register_parameter("weight", torch::ones({c}));
  bias = register_parameter("bias", torch::zeros({c}));
  running_mean = register_buffer("running_mean", torch::zeros({c}));
  running_var = register_buffer("running_var", torch::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  if (options.frozen()) freeze();
}

void BatchNorm2dImpl::freeze() {
  options_.frozen(true);
  weight.set_requires_grad(false);
  bias.set_requires_grad(false);
}

void freeze(torch::nn::Module& module) {
  for (auto& parameter : module.parameters()) parameter.set_requires_grad(false);
  for (auto& child : module.modules()) {
    if (auto* norm = child->as<BatchNorm2d>()) norm->freeze();
  }
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& input) { return normalize(input, /*relu=*/false); }

torch::Tensor BatchNorm2dImpl::forward_relu(const torch::Tensor& input) { return normalize(input, /*relu=*/true); }

torch::Tensor BatchNorm2dImpl::normalize(const torch::Tensor& input, bool relu) {
  if (is_training() && !options_.frozen()) {
    {
      torch::NoGradGuard no_grad;
      num_batches_tracked.add_(1);
    }
    if (ranks_) {
      torch::Tensor out = normalize_over_ranks(input);
      return relu ? out.relu() : out;
    }
    return batch_norm_training(input, weight, bias, running_mean, running_var, options_.momentum(), options_.eps(), relu);
  }
  torch::Tensor out = torch::batch_norm(input, weight, bias, running_mean, running_var, /*training=*/false,
                                        options_.momentum(), options_.eps(), /*cudnn_enabled=*/true);
  return relu ? out.relu_() : out;
}

// Differentiable ops around one sum over the ranks of [sum x, sum x^2, count] per channel, taken about the running
// mean (the same on every rank: buffers start equal and move together) so that E[x^2] - E[x]^2 does not cancel
// badly in float. The count is carried in the input's dtype: exact up to 2^24 values per channel in float.
torch::Tensor BatchNorm2dImpl::normalize_over_ranks(const torch::Tensor& input) {
  const int64_t c = options_.channels();
  // A copy: the running mean moves below.
  const torch::Tensor shift = running_mean.detach().to(input.scalar_type(), /*non_blocking=*/false, /*copy=*/true).view({1, c, 1, 1});
  const torch::Tensor centred = input - shift;
  const std::vector<int64_t> reduced = {0, 2, 3};
  const torch::Tensor local = torch::cat({centred.sum(reduced), centred.pow(2).sum(reduced),
                                          torch::full({1}, double(input.numel() / c), input.options())});
  const torch::Tensor total = CrossRankSumFunction::apply(local, ranks_.get());
  const torch::Tensor count = total.narrow(0, 2 * c, 1);
  const torch::Tensor mean = total.narrow(0, 0, c) / count;  // about the shift
  const torch::Tensor variance = (total.narrow(0, c, c) / count - mean.pow(2)).clamp_min(0);
  {
    torch::NoGradGuard no_grad;
    const double n = count.item<double>();
    running_mean.mul_(1 - options_.momentum()).add_((mean + shift.view({c})).to(running_mean.scalar_type()), options_.momentum());
    running_var.mul_(1 - options_.momentum())
        .add_(variance.to(running_var.scalar_type()) * (n / std::max(n - 1, 1.0)), options_.momentum());
  }
  const torch::Tensor scale = weight * (variance + options_.eps()).rsqrt();
  return (centred - mean.view({1, c, 1, 1})) * scale.view({1, c, 1, 1}) + bias.view({1, c, 1, 1});
}

int64_t synchronize_batch_norms(torch::nn::Module& module, const std::shared_ptr<CrossRankSum>& ranks) {
  int64_t count = 0;
  for (const auto& child : module.modules()) {
    auto* norm = child->as<BatchNorm2d>();
    if (norm == nullptr || norm->frozen()) continue;
    norm->synchronize(ranks);
    ++count;
  }
  return count;
}

}  // namespace must::models
