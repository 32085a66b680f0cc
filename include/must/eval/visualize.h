// Predictions as pictures (`must_eval predict --visualize`). One picture per image: side-by-side panels, each the
// image's size (a small image enlarged, nearest, to at least `min_side` pixels high), one per kind of prediction,
// chosen by the task table's target kind:
//   class vector     the top class and its probability, written on the image panel
//   boxes            boxes of score >= box_threshold on the image panel, a colour per class, "name score" above
//   class map        the image under the class colours, half and half
//   float map        depth as a colour map: turbo over the image's own 2nd..98th percentile of 1 / depth (near
//                    is warm), invalid pixels black; the range in metres is written on the panel
//   unit-vector map  normals as RGB = (n + 1) / 2 x 255, invalid (0, 0, 0) black
// A contact sheet lays thumbnails of the pictures on a grid.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "must/core/task.h"
#include "must/eval/evaluator.h"

namespace must::eval {

struct PictureOptions {
  double box_threshold = 0.5;  // boxes drawn at or above this score
  int64_t min_side = 256;      // panels enlarged to at least this height
  // Class names per task, for labels (absent: the class index).
  std::map<Task, std::vector<std::string>> class_names;
};

// `image`: uint8 [H, W, 3] RGB, the image the predictions were mapped back onto. Returns uint8 [H', W', 3] RGB.
torch::Tensor prediction_picture(const torch::Tensor& image, const std::map<Task, ImagePrediction>& predictions,
                                 const PictureOptions& options = {});

// A picture scaled to `height` pixels high (area averaging), for a contact sheet.
torch::Tensor thumbnail(const torch::Tensor& picture, int64_t height);
// Thumbnails on a grid of `columns`, left to right then down, on white with a 4-pixel gap. uint8 RGB.
torch::Tensor contact_sheet(const std::vector<torch::Tensor>& thumbnails, int64_t columns);

}  // namespace must::eval
