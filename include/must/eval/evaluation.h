// Running evaluation over a whole split: a model on a dataset (evaluate_model), or saved predictions against it
// (score_predictions), through the task's evaluators, into `<dataset>/<task>/<metric>` values (evaluator.h
// lists the metrics and their units).
#pragma once

#include <torch/types.h>

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "must/data/dataset.h"
#include "must/data/loader.h"
#include "must/data/transforms.h"
#include "must/eval/evaluator.h"
#include "must/eval/prediction_files.h"
#include "must/models/multi_task_model.h"

namespace must::eval {

struct EvaluationOptions {
  std::string dataset_name = "val";  // the first part of every metric key
  std::vector<Task> tasks;           // empty: every task both the predictions and the dataset have
  EvaluatorOptions evaluator;
  bool flip = false;                 // horizontal test-time flip for dense tasks and classification
  PredictionEncoding encoding;
  std::filesystem::path save_dir;    // non-empty: save the predictions there (prediction_files.h)
  double progress_seconds = 10;      // a progress line with the ETA this often (0: none)
};

struct EvaluationResult {
  std::map<std::string, double> metrics;  // "<dataset>/<task>/<metric>"; NaN where nothing was averaged
  std::map<Task, std::string> summaries;  // evaluators' lines for people (COCO's summary)
  std::vector<Task> tasks;
  int64_t images = 0;                     // images scored
  int64_t skipped = 0;                    // images that did not decode
  double seconds = 0;
};

// The tasks to score: `requested` when not empty (each must be among `predicted` and the dataset's tasks), else
// every task in both. Throws must::ConfigError naming the task and the dataset when that leaves nothing or a
// requested task is missing.
std::vector<Task> tasks_to_evaluate(const std::vector<Task>& requested, const std::vector<Task>& predicted,
                                    const data::DatasetInfo& dataset);

// The evaluator context of `task`: the dataset's class names, else `classes` numbered names; throws
// must::ConfigError when the dataset and `classes` (> 0) disagree on the count.
EvaluatorContext evaluator_context(Task task, const data::DatasetInfo& dataset, int64_t classes,
                                   const EvaluatorOptions& options);

// Runs `model` (in eval mode, without gradients; the caller fuses it for inference if it wants) over `dataset`
// with the evaluation transform, on `device`. The loader keeps each sample's original labels. The model's
// training mode is restored afterwards.
EvaluationResult evaluate_model(models::MultiTaskModel& model, std::shared_ptr<const data::Dataset> dataset,
                                std::shared_ptr<const data::Transform> transform, data::LoaderOptions loader,
                                const EvaluationOptions& options, const torch::Device& device = torch::kCPU);

// A model's forward pass over a batch of images ([N, 3, H, W], image i in [:, :h_i, :w_i]): a MultiTaskModel's, or
// a TorchScript teacher's (models/script_teacher.h), in MultiTaskModel's output layout.
using BatchForward =
    std::function<models::ModelOutput(const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes)>;

// Every image of `dataset` through `forward` (its labels are not used: a folder of images will do), with the
// evaluation transform and options.flip: each image's predictions of `tasks`, mapped back onto the image's own
// pixels and stored precision as evaluation maps them, handed to `take` in dataset order. Returns the images done.
using PredictionSink =
    std::function<void(int64_t index, const std::string& source, const std::map<Task, ImagePrediction>& predictions)>;
int64_t predict_dataset(const BatchForward& forward, std::shared_ptr<const data::Dataset> dataset,
                        std::shared_ptr<const data::Transform> transform, data::LoaderOptions loader,
                        const std::vector<Task>& tasks, const EvaluationOptions& options, const torch::Device& device,
                        const PredictionSink& take);

// Scores saved predictions (a prediction_files.h directory, a COCO results JSON, or an official result format:
// result_formats.h) against `dataset`'s labels, on the images the source lists. `classes`: per task, the class count to fall back on when the dataset
// names none. `threads` read in parallel.
EvaluationResult score_predictions(const PredictionSource& reader, std::shared_ptr<const data::Dataset> dataset,
                                   const EvaluationOptions& options, const std::map<Task, int64_t>& classes = {},
                                   int threads = 1);

// The headline and main metrics of each task as a table that fits a screen, then the summaries.
std::string metrics_table(const EvaluationResult& result);
// metrics.json: {"<dataset>/<task>/<metric>": value, ...}, sorted, NaN as null; written atomically.
void write_metrics_json(const std::filesystem::path& path, const EvaluationResult& result);

}  // namespace must::eval
