// Mixed precision for the training step (torch.autocast + torch.cuda.amp.GradScaler, in C++).
//
// `train.precision`: fp32, bf16 or fp16. On a CUDA device the forward pass (model and losses) runs under
// autocast in that type; parameters, gradients and the optimizer stay fp32. On any other device the step runs in
// fp32 whatever the setting (CPU autocast would only slow the CPU kernels we use down), and the trainer says so
// once. fp16 also scales the loss (LossScaler) so small gradients do not flush to zero; bf16 has fp32's range and
// needs no scaling.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace must::engine {

enum class Precision { kFloat32, kBFloat16, kFloat16 };

// "fp32" / "bf16" / "fp16"; throws must::ConfigError naming the known ones.
Precision precision_from_name(const std::string& name);
std::string precision_name(Precision precision);

// The precision a step actually runs in on `device`: `requested` on CUDA, fp32 elsewhere.
Precision effective_precision(Precision requested, const torch::Device& device);

// Autocast on for the scope (the forward pass), off again and its cast cache cleared at the end. Does nothing
// for fp32.
class AutocastScope {
 public:
  explicit AutocastScope(Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_ = false;
  bool was_enabled_ = false;
  torch::ScalarType previous_type_ = torch::kFloat;
};

struct LossScalerOptions {
  double initial_scale = 65536.0;  // 2^16, GradScaler's default
  double growth_factor = 2.0;      // after growth_interval finite steps in a row
  double backoff_factor = 0.5;     // after a step with Inf/NaN gradients (the step is skipped)
  int64_t growth_interval = 2000;
};

// Dynamic loss scaling, GradScaler's rule: backward runs on loss x scale; the gradients are divided by the scale
// before clipping and the step; a step whose gradients hold Inf/NaN is skipped and the scale backs off; after
// growth_interval good steps in a row it grows. Disabled, it passes everything through unchanged.
class LossScaler {
 public:
  LossScaler(bool enabled, LossScalerOptions options = {});
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  int64_t good_steps() const { return good_steps_; }

  torch::Tensor scale_loss(const torch::Tensor& loss) const;
  // Divides every defined gradient by the scale, in place.
  void unscale(const std::vector<torch::Tensor>& parameters) const;
  // After the step's gradients are known: whether they were finite. Returns whether the optimizer may step.
  bool update(bool gradients_finite);

  // For checkpoints: the scale and the count of good steps since the last change.
  void set_state(double scale, int64_t good_steps);

 private:
  bool enabled_;
  LossScalerOptions options_;
  double scale_;
  int64_t good_steps_ = 0;
};

}  // namespace must::engine
