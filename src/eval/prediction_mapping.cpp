#include "must/eval/prediction_mapping.h"

#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"
#include "must/ops/resize.h"

namespace must::eval {
namespace {

namespace F = torch::nn::functional;

bool is_class_scores(Task task) {
  const TargetKind kind = task_spec(task).target;
  return kind == TargetKind::kClassVector || kind == TargetKind::kClassMap;
}

// Boxes of the current image -> the original image's pixels.
std::vector<DetectedBox> boxes_to_original(const structures::Instances& instances, const data::Geometry& geometry) {
  if (instances.size() == 0) return {};
  const double sy = geometry.scale[0], sx = geometry.scale[1], oy = geometry.offset[0], ox = geometry.offset[1];
  const double height = double(geometry.original_size[0]), width = double(geometry.original_size[1]);
  const torch::Tensor boxes = instances.boxes.to(torch::kCPU, torch::kDouble).contiguous();
  const torch::Tensor labels = instances.labels.to(torch::kCPU, torch::kLong).contiguous();
  const torch::Tensor scores = instances.scores.to(torch::kCPU, torch::kDouble).contiguous();
  std::vector<DetectedBox> out;
  for (int64_t i = 0; i < boxes.size(0); ++i) {
    const double* b = boxes.data_ptr<double>() + 4 * i;
    double x1 = (b[0] - ox) / sx, x2 = (b[2] - ox) / sx, y1 = (b[1] - oy) / sy, y2 = (b[3] - oy) / sy;
    if (x1 > x2) std::swap(x1, x2);  // mirrored
    if (y1 > y2) std::swap(y1, y2);
    x1 = std::clamp(x1, 0.0, width), x2 = std::clamp(x2, 0.0, width);
    y1 = std::clamp(y1, 0.0, height), y2 = std::clamp(y2, 0.0, height);
    // As floats, as a detector's boxes are: a results file then holds the same numbers as memory.
    const float corners[4] = {float(x1), float(y1), float(x2), float(y2)};
    out.push_back({labels.data_ptr<int64_t>()[i],
                   {corners[0], corners[1], double(corners[2]) - double(corners[0]), double(corners[3]) - double(corners[1])},
                   scores.data_ptr<double>()[i]});
  }
  return out;
}

}  // namespace

torch::Tensor map_to_original(const torch::Tensor& map, const data::Geometry& geometry) {
  MUST_CHECK(map.dim() == 3, "a dense prediction is [C, H, W], got ", map.sizes());
  MUST_CHECK(geometry.started(), "the image's geometry was not recorded");
  const int64_t height = geometry.original_size[0], width = geometry.original_size[1];
  const torch::Tensor x = map.to(torch::kFloat).unsqueeze(0);
  // A plain resize (no crop, no flip) is undone by resizing back; anything else by sampling.
  const bool plain_resize = geometry.is_resize() && std::lround(geometry.scale[0] * double(height)) == map.size(1) &&
                            std::lround(geometry.scale[1] * double(width)) == map.size(2);
  if (plain_resize) return ops::resize_bilinear(x, {height, width})[0];
  // Sampling positions of the original pixel centres in the current map, normalised to [-1, 1] for grid_sample
  // (align_corners = false: a pixel's centre at index + 0.5).
  const double current_h = double(map.size(1)), current_w = double(map.size(2));
  const torch::Tensor ys = ((torch::arange(height, torch::kDouble) + 0.5) * geometry.scale[0] + geometry.offset[0]) / current_h * 2 - 1;
  const torch::Tensor xs = ((torch::arange(width, torch::kDouble) + 0.5) * geometry.scale[1] + geometry.offset[1]) / current_w * 2 - 1;
  const torch::Tensor grid = torch::stack({xs.view({1, width}).expand({height, width}), ys.view({height, 1}).expand({height, width})}, 2)
                                 .unsqueeze(0)
                                 .to(torch::kFloat);
  return F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false))[0];
}

std::vector<ImagePrediction> image_predictions(Task task, const models::ModelOutput& output, const data::Batch& batch,
                                               const PredictionEncoding& encoding) {
  const size_t count = batch.geometry.size();
  std::vector<ImagePrediction> out(count);
  const TaskSpec& spec = task_spec(task);
  if (spec.target == TargetKind::kBoxes) {
    const auto found = output.instances.find(task);
    MUST_CHECK(found != output.instances.end() && found->second.size() == count, "the model gave no ", task_name(task),
               " output for the batch");
    for (size_t i = 0; i < count; ++i) out[i].detections = boxes_to_original(found->second[i], batch.geometry[i]);
    return out;
  }
  const auto found = output.predictions.find(task);
  MUST_CHECK(found != output.predictions.end(), "the model gave no ", task_name(task), " prediction for the batch");
  const torch::Tensor prediction = found->second.detach().to(torch::kCPU, torch::kFloat);
  MUST_CHECK(prediction.size(0) == int64_t(count), "a prediction for ", prediction.size(0), " images, the batch has ", count);
  if (spec.target == TargetKind::kClassVector) {
    // Ranked on the scores themselves, as torch.topk in torchvision's accuracy() (probabilities can tie where
    // the logits do not); the probabilities go along for people.
    const torch::Tensor classes = std::get<1>(prediction.topk(std::min<int64_t>(5, prediction.size(1)), 1));
    const torch::Tensor probabilities = prediction.softmax(1).gather(1, classes);
    for (size_t i = 0; i < count; ++i) out[i].values = classes[int64_t(i)], out[i].scores = probabilities[int64_t(i)];
    return out;
  }
  for (size_t i = 0; i < count; ++i) {
    const auto [h, w] = batch.images.image_sizes[i];
    torch::Tensor map = map_to_original(prediction[int64_t(i)].narrow(1, 0, h).narrow(2, 0, w), batch.geometry[i]);
    switch (spec.target) {
      case TargetKind::kClassMap: map = map.argmax(0); break;
      case TargetKind::kUnitVectorMap: map = F::normalize(map, F::NormalizeFuncOptions().dim(0).eps(1e-12)); break;
      default: break;
    }
    ImagePrediction image;
    image.values = map;
    out[i] = in_stored_precision(task, std::move(image), encoding);
  }
  return out;
}

torch::Tensor flip_images(const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes) {
  torch::Tensor out = torch::zeros_like(images);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto [h, w] = sizes[i];
    out[int64_t(i)].narrow(1, 0, h).narrow(2, 0, w).copy_(images[int64_t(i)].narrow(1, 0, h).narrow(2, 0, w).flip({2}));
  }
  return out;
}

torch::Tensor unflip_prediction(Task task, const torch::Tensor& prediction,
                                const std::vector<std::array<int64_t, 2>>& sizes) {
  const TaskSpec& spec = task_spec(task);
  if (spec.flip == FlipRule::kNone) return prediction;
  MUST_CHECK(spec.flip != FlipRule::kMirrorBoxes, "flip test-time augmentation is for dense tasks and classification");
  torch::Tensor out = prediction.clone();
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto [h, w] = sizes[i];
    torch::Tensor region = out[int64_t(i)].narrow(-2, 0, h).narrow(-1, 0, w);
    region.copy_(region.flip({-1}));
    if (spec.flip == FlipRule::kMirrorMapNegateX) region[0].neg_();
  }
  return out;
}

torch::Tensor merge_flipped(Task task, const torch::Tensor& prediction, const torch::Tensor& unflipped) {
  // Class scores: the log of the mean probability, so that a softmax of the merged scores is that mean.
  if (is_class_scores(task)) return ((prediction.softmax(1) + unflipped.softmax(1)) / 2).log();
  return (prediction + unflipped) / 2;
}

}  // namespace must::eval
