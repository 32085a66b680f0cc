#include "must/labels/policy.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::labels {

namespace F = torch::nn::functional;

nlohmann::json to_json(const LabelPolicy& p) {
  return {{"classification", {{"temperature", p.temperature}, {"top_k", p.top_k}}},
          {"detection", {{"score_threshold", p.score_threshold}}},
          {"segmentation", {{"confidence_threshold", p.confidence_threshold}}},
          {"flip", p.flip},
          {"dense_size", {p.dense_size[0], p.dense_size[1]}},
          {"pack_images", p.pack_images}};
}

LabelPolicy label_policy_from_json(const nlohmann::json& json, const std::string& source) {
  try {
    LabelPolicy p;
    p.temperature = json.at("classification").at("temperature").get<double>();
    p.top_k = json.at("classification").at("top_k").get<int64_t>();
    p.score_threshold = json.at("detection").at("score_threshold").get<double>();
    p.confidence_threshold = json.at("segmentation").at("confidence_threshold").get<double>();
    p.flip = json.at("flip").get<bool>();
    p.dense_size = json.at("dense_size").get<std::array<int64_t, 2>>();
    p.pack_images = json.at("pack_images").get<bool>();
    return p;
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, source, ": not a label policy (", e.what(), ")");
  }
}

void label_from_prediction(Task task, const torch::Tensor& prediction, const LabelPolicy& policy, data::Sample& label) {
  const TaskSpec& spec = task_spec(task);
  switch (spec.target) {
    case TargetKind::kClassVector: {
      torch::Tensor p = (prediction / policy.temperature).softmax(0);
      if (policy.top_k > 0 && policy.top_k < p.size(0)) {
        const torch::Tensor top = std::get<1>(p.topk(policy.top_k));
        torch::Tensor kept = torch::zeros_like(p);
        kept.index_put_({top}, p.index({top}));
        p = kept / kept.sum();
      }
      label.labels[task] = p;
      return;
    }
    case TargetKind::kClassMap: {
      const auto [confidence, classes] = prediction.softmax(0).max(0);
      label.labels[task] = classes.masked_fill(confidence < policy.confidence_threshold, int64_t(spec.ignore_value));
      return;
    }
    case TargetKind::kUnitVectorMap:
      label.labels[task] = F::normalize(prediction, F::NormalizeFuncOptions().dim(0).eps(1e-12));
      return;
    case TargetKind::kFloatMap:
      label.labels[task] = prediction;
      return;
    case TargetKind::kBoxes:
      break;
  }
  MUST_THROW(Error, task_name(task), " labels are boxes: kept_detections makes them");
}

structures::Instances kept_detections(const structures::Instances& detections, const LabelPolicy& policy) {
  // Double precision, as the threshold: a float score equal to float(threshold) but below it is not kept.
  const torch::Tensor kept = (detections.scores.to(torch::kDouble) >= policy.score_threshold).nonzero().view({-1});
  return detections.map([&](const torch::Tensor& field) { return field.index_select(0, kept); });
}

}  // namespace must::labels
