#include "must/models/batch_norm.h"

#include <torch/torch.h>

namespace must::models {

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

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& input) { return normalize(input, /*relu=*/false); }

torch::Tensor BatchNorm2dImpl::forward_relu(const torch::Tensor& input) { return normalize(input, /*relu=*/true); }

torch::Tensor BatchNorm2dImpl::normalize(const torch::Tensor& input, bool relu) {
  if (is_training() && !options_.frozen()) {
    {
      torch::NoGradGuard no_grad;
      num_batches_tracked.add_(1);
    }
    return batch_norm_training(input, weight, bias, running_mean, running_var, options_.momentum(), options_.eps(), relu);
  }
  torch::Tensor out = torch::batch_norm(input, weight, bias, running_mean, running_var, /*training=*/false,
                                        options_.momentum(), options_.eps(), /*cudnn_enabled=*/true);
  return relu ? out.relu_() : out;
}

}  // namespace must::models
