// Saved predictions: what `must_eval --save-predictions` writes and `must_eval score` reads back. Dense maps are
// stored at the size of each image's labels, so a reader needs no model and no geometry.
//
//   <dir>/predictions.json         {"version": 1, "dataset": name, "size": dataset size, "tasks": [...],
//                                   "depth_units_per_metre": u}
//   <dir>/images.txt               "<index> <source>" per scored image (its dataset index and file)
//   <dir>/classification.jsonl     {"index": i, "image": source, "classes": [c1, ..., ck], "scores": [p1, ...]}
//                                  per image: the top k = min(5, classes), best first, with their probabilities
//   <dir>/detection.json           COCO results: [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}], ids
//                                  as the dataset's (COCO's own; otherwise image_id = dataset index, category_id =
//                                  class + 1), boxes in the image's pixels; pycocotools' loadRes reads it
//   <dir>/segmentation/NNNNNN.png  class map, 8-bit gray (<= 256 classes) or 16-bit; NNNNNN = dataset index
//   <dir>/depth/NNNNNN.png         16-bit gray: round(metres x u), clamped to 1..65535 (u = 1000: millimetres, the
//                                  NYU and world convention)
//   <dir>/normals/NNNNNN.png       16-bit RGB: v = round((n + 1) / 2 x 65535), so n = v / 65535 x 2 - 1 (the world's
//                                  encoding)
//
// Evaluation scores dense predictions in this stored precision whether or not they are saved (BTS evaluates its
// depth PNGs the same way), so scoring saved predictions gives the numbers of the run that saved them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "must/core/task.h"
#include "must/data/dataset.h"
#include "must/eval/evaluator.h"

namespace must::eval {

struct PredictionEncoding {
  double depth_units_per_metre = 1000.0;  // stored depth units per metre (1000: millimetres)
};

// The stored integers of a prediction, and back: depth float [1, H, W] <-> int32 [H, W]; normals float [3, H, W]
// <-> int32 [H, W, 3].
torch::Tensor depth_to_stored(const torch::Tensor& metres, const PredictionEncoding& encoding);
torch::Tensor depth_from_stored(const torch::Tensor& stored, const PredictionEncoding& encoding);
torch::Tensor normals_to_stored(const torch::Tensor& normals);
torch::Tensor normals_from_stored(const torch::Tensor& stored);
// A prediction in its stored precision (depth and normals quantized; others unchanged).
ImagePrediction in_stored_precision(Task task, ImagePrediction prediction, const PredictionEncoding& encoding);

// COCO ids of the dataset's samples and classes (DatasetInfo::image_ids / category_ids, or their defaults).
int64_t coco_image_id(const data::DatasetInfo& info, int64_t index);
int64_t coco_category_id(const data::DatasetInfo& info, int64_t class_index);

class PredictionWriter {
 public:
  // `class_counts`: per task, the number of classes where the dataset names none (a folder of images: the model's
  // heads'), which decides a class map's bit depth.
  PredictionWriter(std::filesystem::path dir, std::string dataset_name, const data::Dataset& dataset,
                   std::vector<Task> tasks, PredictionEncoding encoding, std::map<Task, int64_t> class_counts = {});
  // One image's prediction for `task` (maps are written now; the JSON files by finish()).
  void write(Task task, int64_t index, const std::string& source, const ImagePrediction& prediction);
  // Writes images.txt and the JSON files, atomically.
  void finish();

 private:
  std::filesystem::path dir_;
  std::string dataset_name_;
  const data::DatasetInfo& info_;
  int64_t dataset_size_;
  std::vector<Task> tasks_;
  PredictionEncoding encoding_;
  std::map<Task, int64_t> class_counts_;
  std::map<int64_t, std::string> images_;
  std::vector<std::string> classification_lines_;
  std::string detections_;  // COCO results entries, comma-separated
};

// Predictions read back for scoring, in whichever format they came (result_formats.h opens each).
class PredictionSource {
 public:
  virtual ~PredictionSource() = default;
  virtual std::vector<Task> tasks() const = 0;
  // The dataset indices scored.
  virtual const std::vector<int64_t>& indices() const = 0;
  // The prediction of `task` for dataset index `index`; a class map may hold ConfusionMatrix::kNoClass.
  virtual ImagePrediction read(Task task, int64_t index) const = 0;
  // Where read(task, index) comes from, for messages: its file.
  virtual std::string where(Task task, int64_t index) const = 0;
};

class PredictionReader final : public PredictionSource {
 public:
  // `path`: a directory in the layout above, or a COCO results JSON file (detection only), as any tool writes it.
  // A COCO result's image_id may be a number or a string: the decimal form of the dataset's id, or the image's
  // file name or the end of its path, with or without the extension ("000000397133.jpg", "val2017/000000397133");
  // a string that names two images is an error naming both.
  // Throws must::Error naming the file and record on malformed content, an image or category id the dataset
  // does not have, or a saved set made for a dataset of another size.
  PredictionReader(const std::filesystem::path& path, const data::Dataset& dataset);
  std::vector<Task> tasks() const override { return tasks_; }
  // The dataset indices scored: those images.txt lists, or every image for a results file (an image without
  // detections has none).
  const std::vector<int64_t>& indices() const override { return indices_; }
  // The prediction of `task` for dataset index `index`. A missing map file is an error naming it; an image
  // without detections has none.
  ImagePrediction read(Task task, int64_t index) const override;
  std::string where(Task task, int64_t index) const override;

 private:
  std::filesystem::path dir_, results_file_;  // results_file_: a COCO results file given as the path
  PredictionEncoding encoding_;
  std::vector<Task> tasks_;
  std::vector<int64_t> indices_;
  std::map<int64_t, std::vector<DetectedBox>> detections_;  // by dataset index
  std::map<int64_t, ImagePrediction> classification_;       // by dataset index
  void read_detections(const std::filesystem::path& file, const data::Dataset& dataset);
};

}  // namespace must::eval
