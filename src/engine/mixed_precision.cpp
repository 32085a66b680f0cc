#include "must/engine/mixed_precision.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "must/core/check.h"

namespace must::engine {
namespace {

// LibTorch 2.4 renamed the CUDA autocast switches (the old names still exist there, deprecated).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool cuda_autocast_enabled() { return at::autocast::is_autocast_enabled(at::kCUDA); }
void set_cuda_autocast(bool enabled) { at::autocast::set_autocast_enabled(at::kCUDA, enabled); }
torch::ScalarType cuda_autocast_type() { return at::autocast::get_autocast_dtype(at::kCUDA); }
void set_cuda_autocast_type(torch::ScalarType type) { at::autocast::set_autocast_dtype(at::kCUDA, type); }
#else
bool cuda_autocast_enabled() { return at::autocast::is_enabled(); }
void set_cuda_autocast(bool enabled) { at::autocast::set_enabled(enabled); }
torch::ScalarType cuda_autocast_type() { return at::autocast::get_autocast_gpu_dtype(); }
void set_cuda_autocast_type(torch::ScalarType type) { at::autocast::set_autocast_gpu_dtype(type); }
#endif

}  // namespace

Precision precision_from_name(const std::string& name) {
  if (name == "fp32") return Precision::kFloat32;
  if (name == "bf16") return Precision::kBFloat16;
  if (name == "fp16") return Precision::kFloat16;
  MUST_THROW(ConfigError, "unknown precision '", name, "'; known: fp32, bf16, fp16");
}

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::kFloat32: return "fp32";
    case Precision::kBFloat16: return "bf16";
    case Precision::kFloat16: return "fp16";
  }
  return "fp32";
}

Precision effective_precision(Precision requested, const torch::Device& device) {
  return device.is_cuda() ? requested : Precision::kFloat32;
}

AutocastScope::AutocastScope(Precision precision) : enabled_(precision != Precision::kFloat32) {
  if (!enabled_) return;
  was_enabled_ = cuda_autocast_enabled();
  previous_type_ = cuda_autocast_type();
  set_cuda_autocast_type(precision == Precision::kBFloat16 ? torch::kBFloat16 : torch::kHalf);
  set_cuda_autocast(true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  // As torch.autocast's __exit__: the cache of casted weights lives until the outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_cuda_autocast(was_enabled_);
  set_cuda_autocast_type(previous_type_);
}

LossScaler::LossScaler(bool enabled, LossScalerOptions options)
    : enabled_(enabled), options_(options), scale_(enabled ? options.initial_scale : 1.0) {
  MUST_CHECK(options_.initial_scale > 0 && options_.growth_factor >= 1 && options_.backoff_factor > 0 &&
                 options_.backoff_factor < 1 && options_.growth_interval >= 1,
             "loss scaler: the scale must be positive, growth >= 1, backoff in (0, 1), growth interval >= 1");
}

torch::Tensor LossScaler::scale_loss(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

void LossScaler::unscale(const std::vector<torch::Tensor>& parameters) const {
  if (!enabled_) return;
  torch::NoGradGuard no_grad;
  for (const auto& p : parameters) {
    if (p.grad().defined()) p.grad().mul_(1.0 / scale_);
  }
}

bool LossScaler::update(bool gradients_finite) {
  if (!enabled_) return gradients_finite;
  if (!gradients_finite) {
    scale_ *= options_.backoff_factor;
    good_steps_ = 0;
    return false;
  }
  if (++good_steps_ >= options_.growth_interval) {
    scale_ *= options_.growth_factor;
    good_steps_ = 0;
  }
  return true;
}

void LossScaler::set_state(double scale, int64_t good_steps) {
  MUST_CHECK(scale > 0 && good_steps >= 0, "loss scaler state: scale ", scale, ", good steps ", good_steps);
  scale_ = scale;
  good_steps_ = good_steps;
}

}  // namespace must::engine
