// The label policy: what a teacher's prediction for one image becomes as a stored pseudo label (recorded in the
// store's manifest, so a store is never continued under another policy).
//   classification  softmax(logits / temperature); with top_k > 0 the k largest, renormalised, the rest 0
//   detection       the detector's boxes (after its NMS) with score >= score_threshold
//   segmentation    argmax class; pixels whose top probability < confidence_threshold are ignore (255)
//   depth           as predicted
//   normals         as predicted, renormalised to unit length
// Which rule applies is the task's TargetKind (core/task.h). Predictions come in on the pixels they are stored
// at (mapping a batch's pixels back to the image's is the caller's business), on the CPU, as float.
#pragma once

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>

#include "must/core/task.h"
#include "must/data/dataset.h"
#include "must/structures/instances.h"

namespace must::labels {

struct LabelPolicy {
  double temperature = 1.0;           // classification: soft labels softmax(logits / temperature)
  int64_t top_k = 0;                  // classification: > 0 keeps the k most probable classes, renormalised
  double score_threshold = 0.5;       // detection: boxes kept from this score on
  double confidence_threshold = 0.5;  // segmentation: pixels less sure than this are stored as ignore
  bool flip = false;                  // the mean with the horizontally flipped image's prediction
  std::array<int64_t, 2> dense_size{0, 0};  // [H, W] dense labels are stored at; {0, 0}: each image's own size
  bool pack_images = false;           // the store holds each image too (K.jpg / K.png)
};

// The manifest's "policy" object, and back (throws must::Error naming `source` when a field is missing or malformed).
nlohmann::json to_json(const LabelPolicy& policy);
LabelPolicy label_policy_from_json(const nlohmann::json& json, const std::string& source);

// Image i's label of a task whose target is a tensor (class vector, class map, float map, unit-vector map), into
// label.labels[task] in the data::Sample layout. `prediction` is the teacher's output for the image: logits [C]
// (class vector, class map: [C, H, W]) or the predicted map ([1, H, W] depth, [3, H, W] normals).
void label_from_prediction(Task task, const torch::Tensor& prediction, const LabelPolicy& policy, data::Sample& label);

// The detections the policy keeps (score >= score_threshold, compared in double precision), in their order.
structures::Instances kept_detections(const structures::Instances& detections, const LabelPolicy& policy);

}  // namespace must::labels
