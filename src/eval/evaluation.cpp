#include "must/eval/evaluation.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/parallel.h"
#include "must/core/strings.h"
#include "must/eval/prediction_mapping.h"

namespace must::eval {
namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::vector<Task>& tasks, Task task) {
  return std::find(tasks.begin(), tasks.end(), task) != tasks.end();
}

std::vector<std::string> names_of(const std::vector<Task>& tasks) {
  std::vector<std::string> out;
  for (Task task : tasks) out.emplace_back(task_name(task));
  return out;
}

// Tasks by name for messages, "none" for none.
std::string listed(const std::vector<Task>& tasks) { return tasks.empty() ? "none" : join(names_of(tasks)); }

// Logs "<name>: done/total images, rate, ETA" at most every `period` seconds.
class Progress {
 public:
  Progress(std::string name, int64_t total, double period) : name_(std::move(name)), total_(total), period_(period) {}
  void update(int64_t done) {
    const double elapsed = seconds();
    if (period_ <= 0 || elapsed < next_) return;
    next_ = elapsed + period_;
    const double rate = double(done) / std::max(elapsed, 1e-9);
    spdlog::info("{}: {}/{} images ({:.0f}%), {:.1f} images/s, ETA {:.0f} s", name_, done, total_,
                 100.0 * double(done) / double(std::max<int64_t>(total_, 1)), rate,
                 rate > 0 ? double(total_ - done) / rate : 0.0);
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  std::string name_;
  int64_t total_;
  double period_, next_ = 0;
  Clock::time_point start_ = Clock::now();
};

std::map<Task, std::unique_ptr<Evaluator>> make_evaluators(const std::vector<Task>& tasks, const data::DatasetInfo& info,
                                                           const std::map<Task, int64_t>& classes,
                                                           const EvaluatorOptions& options) {
  std::map<Task, std::unique_ptr<Evaluator>> out;
  for (Task task : tasks) {
    const auto count = classes.find(task);
    out[task] = make_evaluator(task, evaluator_context(task, info, count == classes.end() ? 0 : count->second, options));
  }
  return out;
}

void collect(EvaluationResult& result, const std::string& dataset, std::map<Task, std::unique_ptr<Evaluator>>& evaluators) {
  for (auto& [task, evaluator] : evaluators) {
    for (const auto& [name, value] : evaluator->evaluate()) {
      result.metrics[dataset + "/" + std::string(task_name(task)) + "/" + name] = value;
    }
    const std::string summary = evaluator->summary();
    if (!summary.empty()) result.summaries[task] = summary;
  }
}

}  // namespace

std::vector<Task> tasks_to_evaluate(const std::vector<Task>& requested, const std::vector<Task>& predicted,
                                    const data::DatasetInfo& dataset) {
  std::vector<Task> out;
  for (Task task : requested.empty() ? predicted : requested) {
    const bool labelled = contains(dataset.tasks, task), made = contains(predicted, task);
    if (requested.empty()) {
      if (labelled && made) out.push_back(task);
      continue;
    }
    if (!labelled) {
      MUST_THROW(ConfigError, "dataset ", dataset.name, " has no ", task_name(task), " labels (it has: ",
                 listed(dataset.tasks), ")");
    }
    if (!made) {
      MUST_THROW(ConfigError, "no ", task_name(task), " predictions to score (there are: ", listed(predicted), ")");
    }
    out.push_back(task);
  }
  if (out.empty()) {
    MUST_THROW(ConfigError, "nothing to evaluate: dataset ", dataset.name, " has labels for ",
               listed(dataset.tasks), "; the predictions are for ", listed(predicted));
  }
  return out;
}

EvaluatorContext evaluator_context(Task task, const data::DatasetInfo& dataset, int64_t classes,
                                   const EvaluatorOptions& options) {
  EvaluatorContext context;
  context.options = options;
  const auto names = dataset.class_names.find(task);
  if (names != dataset.class_names.end() && !names->second.empty()) {
    context.class_names = names->second;
    if (classes > 0 && classes != int64_t(context.class_names.size())) {
      MUST_THROW(ConfigError, "dataset ", dataset.name, " has ", context.class_names.size(), " ", task_name(task),
                 " classes but the model's head has ", classes, " outputs");
    }
  } else {
    for (int64_t k = 0; k < classes; ++k) context.class_names.push_back(std::to_string(k));
  }
  return context;
}

namespace {

// The forward pass's output for each batch of `loader` (one epoch, in order), the horizontally flipped pass merged
// in when `flip`, without gradients.
void for_each_output(const BatchForward& forward, data::Loader& loader, bool flip, const torch::Device& device,
                     const std::function<void(const data::Batch&, const models::ModelOutput&)>& take) {
  loader.start_epoch(0);
  torch::NoGradGuard no_grad;
  while (auto batch = loader.next()) {
    const torch::Tensor images = batch->images.tensors.to(device);
    models::ModelOutput output = forward(images, batch->images.image_sizes);
    if (flip) {
      const models::ModelOutput flipped = forward(flip_images(images, batch->images.image_sizes), batch->images.image_sizes);
      for (auto& [task, prediction] : output.predictions) {
        prediction = merge_flipped(task, prediction,
                                   unflip_prediction(task, flipped.predictions.at(task), batch->images.image_sizes));
      }
    }
    take(*batch, output);
  }
}

// The model's forward pass in eval mode; the model's mode is restored when this guard ends.
class EvalModeForward {
 public:
  explicit EvalModeForward(models::MultiTaskModel& model) : model_(model), was_training_(model->is_training()) {
    model_->eval();
  }
  ~EvalModeForward() {
    if (was_training_) model_->train();
  }
  BatchForward forward() const {
    return [model = model_](const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes) mutable {
      return model->forward(images, nullptr, sizes);
    };
  }

 private:
  models::MultiTaskModel model_;
  bool was_training_;
};

}  // namespace

EvaluationResult evaluate_model(models::MultiTaskModel& model, std::shared_ptr<const data::Dataset> dataset,
                                std::shared_ptr<const data::Transform> transform, data::LoaderOptions loader_options,
                                const EvaluationOptions& options, const torch::Device& device) {
  EvaluationResult result;
  result.tasks = tasks_to_evaluate(options.tasks, model->tasks(), dataset->info());
  std::map<Task, int64_t> classes;
  for (const auto& head : model->options().heads) {
    if (task_spec(head.task).channels == 0) classes[head.task] = models::outputs_of(head);
  }
  auto evaluators = make_evaluators(result.tasks, dataset->info(), classes, options.evaluator);
  std::unique_ptr<PredictionWriter> writer;
  if (!options.save_dir.empty()) {
    writer = std::make_unique<PredictionWriter>(options.save_dir, options.dataset_name, *dataset, result.tasks, options.encoding);
  }

  loader_options.shuffle = false;
  loader_options.drop_last = false;
  loader_options.keep_original_labels = true;
  // An image that does not decode stops the evaluation (naming it): skipping it would drop its ground truth and
  // score the rest as if it had never been there.
  loader_options.stop_on_bad_image = true;
  data::Loader loader(dataset, transform, loader_options);
  Progress progress("evaluating " + options.dataset_name, dataset->size(), options.progress_seconds);
  spdlog::info("evaluating {} on {} ({} images): {}", join(names_of(result.tasks)), options.dataset_name,
               dataset->size(), options.flip ? "with horizontal flip" : "single pass");
  const EvalModeForward eval_mode(model);
  for_each_output(eval_mode.forward(), loader, options.flip, device, [&](const data::Batch& batch, const models::ModelOutput& output) {
    for (Task task : result.tasks) {
      const std::vector<ImagePrediction> predictions = image_predictions(task, output, batch, options.encoding);
      for (size_t i = 0; i < predictions.size(); ++i) {
        const data::Sample& truth = batch.original_labels[i];
        if (!truth.has(task)) continue;  // a partly labelled sample
        evaluators.at(task)->process(predictions[i], truth, coco_image_id(dataset->info(), batch.indices[i]));
        if (writer) writer->write(task, batch.indices[i], truth.source, predictions[i]);
      }
    }
    result.images += int64_t(batch.indices.size());
    progress.update(result.images);
  });
  if (writer) writer->finish();
  result.skipped = loader.stats().skipped;
  collect(result, options.dataset_name, evaluators);
  result.seconds = progress.seconds();
  return result;
}

int64_t predict_dataset(const BatchForward& forward, std::shared_ptr<const data::Dataset> dataset,
                        std::shared_ptr<const data::Transform> transform, data::LoaderOptions loader_options,
                        const std::vector<Task>& tasks, const EvaluationOptions& options, const torch::Device& device,
                        const PredictionSink& take) {
  loader_options.shuffle = false;
  loader_options.drop_last = false;
  loader_options.stop_on_bad_image = true;  // a picture for every image, or a clear error naming the one that failed
  data::Loader loader(dataset, transform, loader_options);
  Progress progress("predicting", dataset->size(), options.progress_seconds);
  int64_t done = 0;
  for_each_output(forward, loader, options.flip, device, [&](const data::Batch& batch, const models::ModelOutput& output) {
    std::vector<std::map<Task, ImagePrediction>> per_image(batch.indices.size());
    for (Task task : tasks) {
      std::vector<ImagePrediction> predictions = image_predictions(task, output, batch, options.encoding);
      for (size_t i = 0; i < predictions.size(); ++i) per_image[i][task] = std::move(predictions[i]);
    }
    for (size_t i = 0; i < per_image.size(); ++i) take(batch.indices[i], batch.sources[i], per_image[i]);
    progress.update(done += int64_t(per_image.size()));
  });
  return done;
}

EvaluationResult score_predictions(const PredictionSource& reader, std::shared_ptr<const data::Dataset> dataset,
                                   const EvaluationOptions& options, const std::map<Task, int64_t>& classes,
                                   int threads) {
  EvaluationResult result;
  result.tasks = tasks_to_evaluate(options.tasks, reader.tasks(), dataset->info());
  auto evaluators = make_evaluators(result.tasks, dataset->info(), classes, options.evaluator);
  const std::vector<int64_t>& indices = reader.indices();
  Progress progress("scoring " + options.dataset_name, int64_t(indices.size()), options.progress_seconds);
  // Labels and predictions are read in parallel, a chunk at a time; evaluators take them in order.
  const int64_t chunk = 64;
  for (size_t begin = 0; begin < indices.size(); begin += chunk) {
    const size_t end = std::min(indices.size(), begin + chunk);
    std::vector<data::Sample> truths(end - begin);
    std::vector<std::map<Task, ImagePrediction>> read(end - begin);
    parallel_for(int64_t(end - begin), threads, [&](int64_t i) {
      const int64_t index = indices[begin + size_t(i)];
      truths[size_t(i)] = dataset->get(index);
      for (Task task : result.tasks) {
        if (truths[size_t(i)].has(task)) read[size_t(i)][task] = reader.read(task, index);
      }
    });
    for (size_t i = 0; i < truths.size(); ++i) {
      const int64_t index = indices[begin + i];
      for (auto& [task, prediction] : read[i]) {
        evaluators.at(task)->process(prediction, truths[i], coco_image_id(dataset->info(), index));
      }
    }
    result.images += int64_t(end - begin);
    progress.update(result.images);
  }
  collect(result, options.dataset_name, evaluators);
  result.seconds = progress.seconds();
  return result;
}

std::string metrics_table(const EvaluationResult& result) {
  std::string out;
  char line[200];
  std::string dataset;
  for (const auto& [key, value] : result.metrics) {  // keys share the dataset part
    dataset = key.substr(0, key.find('/'));
    break;
  }
  std::snprintf(line, sizeof(line), "%s: %lld images in %.1f s\n", dataset.c_str(),
                static_cast<long long>(result.images), result.seconds);
  out += line;
  std::snprintf(line, sizeof(line), "  %-16s %-16s %10s\n", "task", "metric", "value");
  out += line;
  for (Task task : result.tasks) {
    const std::string prefix = dataset + "/" + std::string(task_name(task)) + "/";
    const std::string headline(task_spec(task).headline_metric);
    std::vector<std::pair<std::string, double>> shown;  // the headline first, then the others by name
    for (const auto& [key, value] : result.metrics) {
      if (key.rfind(prefix, 0) != 0) continue;
      const std::string name = key.substr(prefix.size());
      if (name.find('/') != std::string::npos || name == "images" || name == "pixels" || name == "valid_images") continue;
      shown.insert(name == headline ? shown.begin() : shown.end(), {name, value});
    }
    for (size_t i = 0; i < shown.size(); ++i) {
      std::snprintf(line, sizeof(line), "  %-16s %-16s %10.4g%s\n", i == 0 ? std::string(task_name(task)).c_str() : "",
                    shown[i].first.c_str(), shown[i].second, shown[i].first == headline ? "  *" : "");
      out += line;
    }
  }
  out += "  (* the task's headline metric; per-class values are in metrics.json)\n";
  for (const auto& [task, summary] : result.summaries) out += std::string(task_name(task)) + ", as COCOeval.summarize():\n" + summary;
  return out;
}

void write_metrics_json(const std::filesystem::path& path, const EvaluationResult& result) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& [key, value] : result.metrics) json[key] = std::isfinite(value) ? nlohmann::ordered_json(value) : nullptr;
  atomic_write_file(path, json.dump(2) + "\n");
}

}  // namespace must::eval
