// From a model's output on a batch to each image's prediction in the coordinates of its own labels (what the
// evaluators and the prediction files take):
//   dense maps      cut to the image's size in the padded batch, then mapped back through its data::Geometry: a
//                   plain resize is undone by a bilinear resize to the original size (align_corners = false, as
//                   detectron2's sem_seg_postprocess); a crop or flip by bilinear sampling at each original
//                   pixel's centre. Then, by target kind: class maps take the argmax (of the mapped logits or
//                   probabilities), unit-vector maps are L2-normalised, and depth and normals are brought to their
//                   stored precision (prediction_files.h).
//   class vectors   the top k = min(5, classes) classes in torch.topk's order, with their softmax probabilities
//   boxes           x = (x' - offset) / scale per axis (corners swapped after a flip), clipped to the image
#pragma once

#include <torch/types.h>

#include <vector>

#include "must/core/task.h"
#include "must/data/loader.h"
#include "must/eval/evaluator.h"
#include "must/eval/prediction_files.h"
#include "must/models/multi_task_model.h"

namespace must::eval {

// The model's prediction of `task` for every image of `batch` (output of the model on batch.images).
std::vector<ImagePrediction> image_predictions(Task task, const models::ModelOutput& output, const data::Batch& batch,
                                               const PredictionEncoding& encoding = {});

// A [C, h, w] map over an image's current pixels, sampled back onto its original pixels: [C, H, W].
torch::Tensor map_to_original(const torch::Tensor& map, const data::Geometry& geometry);

// Horizontal test-time augmentation: `images` with each image mirrored inside its own size (padding stays at the
// right and bottom), and a prediction on such a batch mirrored back by the task's flip rule (normals' x negated).
torch::Tensor flip_images(const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes);
torch::Tensor unflip_prediction(Task task, const torch::Tensor& prediction,
                                const std::vector<std::array<int64_t, 2>>& sizes);
// The mean of a prediction and its flipped twin, by target kind: class scores as softmax probabilities (returned
// as their log, so they stay scores), maps as values (unit vectors renormalised by image_predictions()).
torch::Tensor merge_flipped(Task task, const torch::Tensor& prediction, const torch::Tensor& unflipped);

}  // namespace must::eval
