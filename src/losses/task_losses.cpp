#include "must/losses/task_losses.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must::losses {
namespace {

// The zero returned when nothing is labelled: no gradient flows from it.
torch::Tensor nothing(const torch::Tensor& like) { return torch::zeros({}, like.options().requires_grad(false)); }

// [B] presence -> a mask broadcastable to `like` ([B, ...]).
torch::Tensor per_sample(const torch::Tensor& present, const torch::Tensor& like) {
  MUST_CHECK(present.dim() == 1 && present.size(0) == like.size(0), "presence should be [", like.size(0),
             "], got ", present.sizes());
  std::vector<int64_t> shape(size_t(like.dim()), 1);
  shape[0] = like.size(0);
  return present.to(torch::kBool).view(shape);
}

void check_same_shape(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  MUST_CHECK(a.sizes() == b.sizes(), what, ": prediction ", a.sizes(), " and target ", b.sizes(), " differ");
}

// Valid depth pixels of labelled samples: [B, 1, H, W] bool.
torch::Tensor depth_mask(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present) {
  check_same_shape(prediction, target, "depth");
  MUST_CHECK(target.dim() == 4 && target.size(1) == 1, "depth targets should be [B, 1, H, W], got ", target.sizes());
  return (target > 0) & per_sample(present, target);
}

// One registered loss: the target kind it is defined for, and how it computes from the head's prediction, and
// optionally from the low-resolution map that the prediction upsamples (TaskLoss::of_upsampled).
using LossFunction = torch::Tensor (*)(const torch::Tensor& prediction, const structures::TaskTargets& targets,
                                       const LossOptions& options, Task task);
struct LossEntry {
  TargetKind target;
  LossFunction compute;
  LossFunction compute_upsampled = nullptr;
};

const std::map<std::string, LossEntry>& loss_entries() {
  using structures::TaskTargets;
  static const std::map<std::string, LossEntry> entries = {
      {"soft_cross_entropy", {TargetKind::kClassVector, [](const torch::Tensor& p, const TaskTargets& y, const LossOptions& o, Task) {
         return soft_cross_entropy(p, y.values, y.present, o.temperature);
       }}},
      {"cross_entropy", {TargetKind::kClassMap, [](const torch::Tensor& p, const TaskTargets& y, const LossOptions&, Task task) {
         return cross_entropy_map(p, y.values, y.present, int64_t(task_spec(task).ignore_value));
       }, [](const torch::Tensor& low, const TaskTargets& y, const LossOptions&, Task task) {
         return cross_entropy_upsampled(low, y.values, y.present, int64_t(task_spec(task).ignore_value));
       }}},
      {"l1", {TargetKind::kFloatMap, [](const torch::Tensor& p, const TaskTargets& y, const LossOptions&, Task) {
         return depth_l1(p, y.values, y.present);
       }}},
      {"silog", {TargetKind::kFloatMap, [](const torch::Tensor& p, const TaskTargets& y, const LossOptions& o, Task) {
         return depth_silog(p, y.values, y.present, o.variance_focus);
       }}},
      {"ssi", {TargetKind::kFloatMap, [](const torch::Tensor& p, const TaskTargets& y, const LossOptions&, Task) {
         return depth_ssi(p, y.values, y.present);
       }}},
      {"ssi_inverse", {TargetKind::kFloatMap, [](const torch::Tensor& p, const TaskTargets& y, const LossOptions&, Task) {
         return depth_ssi(1 / p.clamp_min(1e-3), y.values, y.present);
       }}},
      {"cosine", {TargetKind::kUnitVectorMap, [](const torch::Tensor& p, const TaskTargets& y, const LossOptions&, Task) {
         return normal_cosine(p, y.values, y.present);
       }}},
  };
  return entries;
}

// A registered loss bound to its task and options; one term, "loss/<task>/<name>".
class BoundLoss final : public TaskLoss {
 public:
  BoundLoss(const std::string& name, const LossEntry& entry, Task task, LossOptions options)
      : key_(loss_key(task, name)), entry_(entry), task_(task), options_(std::move(options)) {}
  LossDict operator()(const torch::Tensor& prediction, const structures::TaskTargets& targets) const override {
    return {{key_, entry_.compute(prediction, targets, options_, task_)}};
  }
  LossDict of_upsampled(const torch::Tensor& low_resolution, const structures::TaskTargets& targets) const override {
    if (entry_.compute_upsampled) return {{key_, entry_.compute_upsampled(low_resolution, targets, options_, task_)}};
    const std::vector<int64_t> size = {targets.values.size(-2), targets.values.size(-1)};
    return (*this)(torch::upsample_bilinear2d(low_resolution, size, /*align_corners=*/false), targets);
  }

 private:
  std::string key_;
  LossEntry entry_;
  Task task_;
  LossOptions options_;
};

}  // namespace

TaskLossRegistry& task_loss_registry() {
  static TaskLossRegistry* registry = [] {
    auto* r = new TaskLossRegistry("loss");
    for (const auto& [name, entry] : loss_entries()) {
      r->add(name, [name = name, entry = entry](Task task, const LossOptions& options) -> std::unique_ptr<TaskLoss> {
        if (task_spec(task).target != entry.target) {
          MUST_THROW(ConfigError, "loss '", name, "' does not apply to task ", task_name(task));
        }
        return std::make_unique<BoundLoss>(name, entry, task, options);
      });
    }
    return r;
  }();
  return *registry;
}

std::unique_ptr<TaskLoss> make_task_loss(Task task, const LossOptions& options) {
  const std::string type = options.type.empty() ? std::string(task_spec(task).default_loss) : options.type;
  return task_loss_registry().create(type, task, options);
}

torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& probabilities,
                                 const torch::Tensor& present, double temperature) {
  check_same_shape(logits, probabilities, "soft_cross_entropy");
  MUST_CHECK(logits.dim() == 2, "classification logits should be [B, C], got ", logits.sizes());
  MUST_CHECK(temperature > 0, "temperature must be positive, got ", temperature);
  const torch::Tensor keep = present.to(torch::kBool);
  if (!keep.any().item<bool>()) return nothing(logits);
  const torch::Tensor per_sample_loss = -(probabilities * torch::log_softmax(logits / temperature, 1)).sum(1);
  return per_sample_loss.masked_select(keep).mean();
}

torch::Tensor cross_entropy_map(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& present,
                                int64_t ignore_index) {
  MUST_CHECK(logits.dim() == 4 && labels.dim() == 3 && logits.size(0) == labels.size(0) &&
                 logits.sizes().slice(2) == labels.sizes().slice(1),
             "segmentation: logits [B, C, H, W] and labels [B, H, W] expected, got ", logits.sizes(), " and ",
             labels.sizes());
  const torch::Tensor masked = labels.masked_fill(per_sample(present, labels).logical_not(), ignore_index);
  if (!(masked != ignore_index).any().item<bool>()) return nothing(logits);
  return torch::nll_loss2d(torch::log_softmax(logits, 1), masked, {}, at::Reduction::Mean, ignore_index);
}

torch::Tensor depth_l1(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present) {
  const torch::Tensor valid = depth_mask(prediction, target, present);
  if (!valid.any().item<bool>()) return nothing(prediction);
  return (prediction - target).abs().masked_select(valid).mean();
}

torch::Tensor depth_silog(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present,
                          double variance_focus) {
  const torch::Tensor valid = depth_mask(prediction, target, present) & (prediction > 0);
  if (!valid.any().item<bool>()) return nothing(prediction);
  const torch::Tensor e = (prediction.masked_select(valid).log() - target.masked_select(valid).log());
  // Clamped at 0: rounding can make the variance term slightly negative for a perfect prediction.
  return (e.pow(2).mean() - variance_focus * e.mean().pow(2)).clamp_min(0).sqrt();
}

torch::Tensor depth_ssi(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present) {
  const torch::Tensor valid = depth_mask(prediction, target, present);
  if (!valid.any().item<bool>()) return nothing(prediction);
  const torch::Tensor m = valid.to(prediction.scalar_type());
  const torch::Tensor d = prediction * m, g = target * m;
  // Normal equations of min_{s,t} sum m (s d + t - g)^2, per image.
  const auto dims = std::vector<int64_t>{1, 2, 3};
  const torch::Tensor a00 = (d * d).sum(dims), a01 = d.sum(dims), a11 = m.sum(dims);
  const torch::Tensor b0 = (d * g).sum(dims), b1 = g.sum(dims);
  const torch::Tensor det = a00 * a11 - a01 * a01;
  const torch::Tensor solvable = det.abs() > 1e-9;
  const torch::Tensor safe_det = torch::where(solvable, det, torch::ones_like(det));
  // A constant prediction (or a single pixel) leaves s free: keep s = 1 and fit the shift alone.
  const torch::Tensor s = torch::where(solvable, (a11 * b0 - a01 * b1) / safe_det, torch::ones_like(det));
  const torch::Tensor t = torch::where(solvable, (a00 * b1 - a01 * b0) / safe_det,
                                       (b1 - a01) / a11.clamp_min(1));
  const torch::Tensor fitted = s.view({-1, 1, 1, 1}) * prediction + t.view({-1, 1, 1, 1});
  return (fitted - target).abs().masked_select(valid).mean();
}

torch::Tensor normal_cosine(const torch::Tensor& prediction, const torch::Tensor& target, const torch::Tensor& present) {
  check_same_shape(prediction, target, "normals");
  MUST_CHECK(target.dim() == 4 && target.size(1) == 3, "normal targets should be [B, 3, H, W], got ", target.sizes());
  // Elementwise ops, not Tensor::norm over dim 1: ATen's strided reduction is ~20x slower on NCHW maps.
  const torch::Tensor length = target.square().sum(1, /*keepdim=*/true).sqrt();
  const torch::Tensor valid = (length > 0) & per_sample(present, target);
  if (!valid.any().item<bool>()) return nothing(prediction);
  const torch::Tensor cosine = (prediction * (target / length.clamp_min(1e-12))).sum(1, /*keepdim=*/true);
  return (1 - cosine).masked_select(valid).mean();
}

std::string loss_key(Task task, std::string_view term) {
  return "loss/" + std::string(task_name(task)) + "/" + std::string(term);
}

std::map<Task, torch::Tensor> losses_by_task(const LossDict& losses) {
  std::map<Task, torch::Tensor> out;
  for (const auto& [key, value] : losses) {
    const auto parts = split(key, '/');
    MUST_CHECK(parts.size() == 3 && parts[0] == "loss", "loss key '", key, "' is not loss/<task>/<term>");
    const Task task = task_from_name(parts[1]);
    auto found = out.find(task);
    if (found == out.end()) {
      out.emplace(task, value);
    } else {
      found->second = found->second + value;
    }
  }
  return out;
}

}  // namespace must::losses
