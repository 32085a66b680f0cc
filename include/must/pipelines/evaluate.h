// must_eval's direct and score modes: a checkpoint, or saved predictions, scored on the config's evaluation
// dataset (data.eval, evaluation: section) into output_dir/metrics.json.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string_view>

#include "must/config/config.h"
#include "must/eval/evaluation.h"
#include "must/models/script_teacher.h"

namespace must::pipelines {

// must_eval's whole schema: every training tool's sections (teachers' and the student's configs evaluate as they
// are; the pseudo-labeller reads its teachers' configs with it too).
std::string_view eval_schema();

// `must_eval --weights FILE`: builds the config's model, loads FILE (or model.init_from when `weights` is empty;
// every model key must be there, mapped as models/weight_import.h says; keys the model lacks, such as other tasks'
// heads of a student, are listed in the log), evaluates it on data.eval and writes output_dir/metrics.json (plus
// output_dir/predictions/ when save_predictions).
eval::EvaluationResult evaluate_checkpoint(const config::Config& config, const std::filesystem::path& weights,
                                           const std::filesystem::path& output_dir, bool save_predictions,
                                           const torch::Device& device);

// `must_eval predict --images DIR`: the config's model with the weights (as evaluate_checkpoint loads them), or a
// TorchScript teacher, over every image of DIR (format `images`, no labels), with the evaluation transform; writes output_dir/predictions/
// (prediction_files.h's layout, dataset "predict") and, with `visualize`, output_dir/pictures/NNNNNN.png per image
// and pictures/sheet.png of the first 48 (eval/visualize.h). Returns the images done.
struct PredictRequest {
  std::filesystem::path images, output_dir;
  bool visualize = false;
  double box_threshold = 0.5;  // boxes drawn at or above this score
  // A TorchScript teacher to predict with instead of a checkpoint (file set); batch_mean / batch_std are taken
  // from data.augment.
  models::ScriptTeacherOptions torchscript;
};
int64_t predict_images(const config::Config& config, const std::filesystem::path& weights, const PredictRequest& request,
                       const torch::Device& device);

// `must_eval score --predictions PATH [--predictions-format NAME]`: scores saved predictions (a --save-predictions
// folder, a COCO results JSON, or a benchmark's official result format: eval/result_formats.h) against data.eval
// with the same metrics, no model needed; writes output_dir/metrics.json.
eval::EvaluationResult score_saved_predictions(const config::Config& config, const std::filesystem::path& predictions,
                                               const std::string& predictions_format,
                                               const std::filesystem::path& output_dir, int threads);

}  // namespace must::pipelines
