#include "must/pipelines/evaluate.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/data/data_config.h"
#include "must/data/decode.h"
#include "must/data/image_io.h"
#include "must/engine/train_defaults.h"
#include "must/eval/eval_config.h"
#include "must/eval/result_formats.h"
#include "must/eval/visualize.h"
#include "must/models/model_config.h"
#include "must/models/weight_import.h"
#include "must/pipelines/student.h"

namespace must::pipelines {

std::string_view eval_schema() {
  // Every training tool's schema at once (must_train_teacher's, and must_train_student's sources and student
  // sections), so must_eval reads the config of whatever trained the weights; it uses model, data.eval and
  // evaluation.
  static const std::string defaults = std::string(models::model_defaults()) + std::string(data::data_defaults()) +
                                      std::string(eval::evaluation_defaults()) + std::string(engine::train_defaults()) +
                                      std::string(data::sources_defaults()) + std::string(student_defaults());
  return defaults;
}

namespace {

struct EvalSetup {
  std::shared_ptr<data::Dataset> dataset;
  std::string dataset_format;  // data.eval.format
  eval::EvaluationOptions options;
};

EvalSetup setup_from(const config::Config& config) {
  EvalSetup setup;
  const data::DatasetOptions dataset_options = data::dataset_options_from_config(config.at("data.eval"));
  setup.options = eval::evaluation_options_from_config(config.at("evaluation"), dataset_options);
  setup.dataset = data::make_dataset(dataset_options);
  setup.dataset_format = dataset_options.format;
  return setup;
}

// eval::tasks_to_evaluate, its errors naming the config key at fault: evaluation.tasks when it lists tasks, else the
// evaluation dataset.
std::vector<Task> checked_tasks(const config::Config& config, const EvalSetup& setup, const std::vector<Task>& predicted) {
  try {
    return eval::tasks_to_evaluate(setup.options.tasks, predicted, setup.dataset->info());
  } catch (const ConfigError& e) {
    if (!setup.options.tasks.empty()) config.at("evaluation").fail("tasks", e.what());
    config.at("data.eval").fail("root", e.what());
  }
}

// --weights, or model.init_from when --weights is not given; both, naming other files, are refused rather than one
// silently winning.
std::filesystem::path weights_to_evaluate(const config::Config& config, const models::MultiTaskModelOptions& options,
                                          const std::filesystem::path& weights) {
  if (weights.empty() && options.init_from.empty()) {
    MUST_THROW(ConfigError, "no weights to evaluate: give --weights FILE (or model.init_from)");
  }
  if (!weights.empty() && !options.init_from.empty() && std::filesystem::path(options.init_from) != weights) {
    config.fail("model.init_from", "names " + options.init_from + " but --weights names " + weights.string() +
                                       ": give the weights to evaluate once");
  }
  const std::filesystem::path file = weights.empty() ? std::filesystem::path(options.init_from) : weights;
  if (!std::filesystem::exists(file)) {
    MUST_THROW(ConfigError, weights.empty() ? "model.init_from " : "--weights ", file.string(), ": no such file");
  }
  return file;
}

// The config's model with the weights to evaluate, in eval mode on `device` (fused for inference on a CPU).
models::MultiTaskModel model_to_evaluate(const config::Config& config, const models::MultiTaskModelOptions& options,
                                         const std::filesystem::path& weights, const torch::Device& device) {
  models::MultiTaskModel model(options);
  models::load_complete_weights(*model, weights_to_evaluate(config, options, weights));
  model->to(device);
  model->eval();
  if (device.is_cpu()) model->fuse_for_inference();
  return model;
}

// Class names for pictures: those of the config's data.eval dataset when it is there to open, else none (the
// pictures then show class indices).
std::map<Task, std::vector<std::string>> class_names_of_eval_dataset(const config::Config& config) {
  const data::DatasetOptions options = data::dataset_options_from_config(config.at("data.eval"));
  if (options.root.empty() || !std::filesystem::exists(options.root)) return {};
  try {
    return data::make_dataset(options)->info().class_names;
  } catch (const std::exception& e) {
    spdlog::info("pictures show class indices: data.eval does not open ({})", e.what());
    return {};
  }
}

// Writes each image's picture to dir/NNNNNN.png and keeps a thumbnail of the first kSheetImages for the sheet.
class PictureWriter {
 public:
  static constexpr size_t kSheetImages = 48;
  PictureWriter(std::filesystem::path dir, eval::PictureOptions options) : dir_(std::move(dir)), options_(std::move(options)) {
    std::filesystem::create_directories(dir_);
  }
  void write(int64_t index, const std::string& source, const std::map<Task, eval::ImagePrediction>& predictions) {
    const torch::Tensor image = data::decode_rgb(read_file(source), source);
    const torch::Tensor picture = eval::prediction_picture(image, predictions, options_);
    data::write_png(dir_ / fmt::format("{:06d}.png", index), picture.data_ptr<uint8_t>(), int(picture.size(0)),
                    int(picture.size(1)), 3, 8);
    if (thumbnails_.size() < kSheetImages) thumbnails_.push_back(eval::thumbnail(picture, 128));
  }
  void finish() const {
    if (thumbnails_.empty()) return;
    const torch::Tensor sheet = eval::contact_sheet(thumbnails_, 4);
    atomic_write_file(dir_ / "sheet.png", data::encode_png(sheet.data_ptr<uint8_t>(), int(sheet.size(0)),
                                                           int(sheet.size(1)), 3, 8, 6));
  }

 private:
  std::filesystem::path dir_;
  eval::PictureOptions options_;
  std::vector<torch::Tensor> thumbnails_;
};

// What predicts: the checkpoint's model, or a TorchScript teacher; its tasks and, for the predictions' bit depth,
// their class counts where known.
struct Predictor {
  eval::BatchForward forward;
  std::vector<Task> tasks;
  std::map<Task, int64_t> class_counts;
};

Predictor predictor_of(const config::Config& config, const std::filesystem::path& weights, const PredictRequest& request,
                       const torch::Device& device) {
  Predictor predictor;
  if (!request.torchscript.file.empty()) {
    MUST_CHECK(weights.empty(), "give --weights or --torchscript, not both");
    models::ScriptTeacherOptions options = request.torchscript;
    const data::Normalization batch = data::normalization_from_config(config.at("data.augment"));
    options.batch_mean = batch.mean;
    options.batch_std = batch.std;
    auto script = std::make_shared<models::ScriptTeacher>(options);
    script->to(device);
    predictor.forward = [script](const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes) {
      return script->forward(images, sizes);
    };
    predictor.tasks = {options.task};
    return predictor;
  }
  const models::MultiTaskModelOptions model_options = models::model_options_from_config(config.at("model"));
  models::MultiTaskModel model = model_to_evaluate(config, model_options, weights, device);
  predictor.forward = [model](const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes) mutable {
    return model->forward(images, nullptr, sizes);
  };
  predictor.tasks = model->tasks();
  for (const auto& head : model_options.heads) predictor.class_counts[head.task] = models::outputs_of(head);
  return predictor;
}

}  // namespace

int64_t predict_images(const config::Config& config, const std::filesystem::path& weights, const PredictRequest& request,
                       const torch::Device& device) {
  data::DatasetOptions images;
  images.format = "images";
  images.root = request.images;
  images.config_key = "--images";
  const std::shared_ptr<data::Dataset> dataset = data::make_dataset(images);
  MUST_CHECK(dataset->size() > 0, "--images ", request.images.string(), ": no images there");
  const Predictor predictor = predictor_of(config, weights, request, device);
  eval::EvaluationOptions options = eval::evaluation_options_from_config(config.at("evaluation"), images);
  options.dataset_name = "predict";
  const auto partial = request.output_dir / "predictions.partial";
  std::filesystem::remove_all(partial);
  eval::PredictionWriter predictions(partial, options.dataset_name, *dataset, predictor.tasks, options.encoding,
                                     predictor.class_counts);
  std::unique_ptr<PictureWriter> pictures;
  if (request.visualize) {
    eval::PictureOptions picture_options;
    picture_options.box_threshold = request.box_threshold;
    picture_options.class_names = class_names_of_eval_dataset(config);
    pictures = std::make_unique<PictureWriter>(request.output_dir / "pictures", picture_options);
  }
  const int64_t done = eval::predict_dataset(
      predictor.forward, dataset, data::transform_from_config(config.at("data.augment"), /*training=*/false),
      data::loader_options_from_config(config.at("data.loader"), /*training=*/false), predictor.tasks, options, device,
      [&](int64_t index, const std::string& source, const std::map<Task, eval::ImagePrediction>& per_task) {
        for (const auto& [task, prediction] : per_task) predictions.write(task, index, source, prediction);
        if (pictures) pictures->write(index, source, per_task);
      });
  predictions.finish();
  if (pictures) pictures->finish();
  const auto saved = request.output_dir / "predictions";
  std::filesystem::remove_all(saved);
  std::filesystem::rename(partial, saved);
  return done;
}

eval::EvaluationResult evaluate_checkpoint(const config::Config& config, const std::filesystem::path& weights,
                                     const std::filesystem::path& output_dir, bool save_predictions,
                                     const torch::Device& device) {
  const models::MultiTaskModelOptions model_options = models::model_options_from_config(config.at("model"));
  EvalSetup setup = setup_from(config);
  // Checked before the weights are read: a config that asks for tasks the dataset lacks fails at once.
  std::vector<Task> model_tasks;
  for (const auto& head : model_options.heads) model_tasks.push_back(head.task);
  checked_tasks(config, setup, model_tasks);

  models::MultiTaskModel model = model_to_evaluate(config, model_options, weights, device);

  // Predictions go to a partial folder, renamed over output_dir/predictions only when the run is complete: a
  // failed run leaves earlier predictions as they were.
  const auto saved = output_dir / "predictions", partial = output_dir / "predictions.partial";
  if (save_predictions) {
    std::filesystem::remove_all(partial);
    setup.options.save_dir = partial;
  }
  data::LoaderOptions loader = data::loader_options_from_config(config.at("data.loader"), /*training=*/false);
  const auto transform = data::transform_from_config(config.at("data.augment"), /*training=*/false);
  const eval::EvaluationResult result = eval::evaluate_model(model, setup.dataset, transform, loader, setup.options, device);
  if (save_predictions) {  // the old folder goes aside before the new one takes its name
    const auto old = output_dir / "predictions.old";
    std::filesystem::remove_all(old);
    if (std::filesystem::exists(saved)) std::filesystem::rename(saved, old);
    std::filesystem::rename(partial, saved);
    std::filesystem::remove_all(old);
  }
  eval::write_metrics_json(output_dir / "metrics.json", result);
  return result;
}

eval::EvaluationResult score_saved_predictions(const config::Config& config, const std::filesystem::path& predictions,
                                               const std::string& predictions_format,
                                               const std::filesystem::path& output_dir, int threads) {
  EvalSetup setup = setup_from(config);
  const std::unique_ptr<eval::PredictionSource> source =
      eval::open_predictions(predictions, predictions_format, *setup.dataset, setup.dataset_format);
  checked_tasks(config, setup, source->tasks());
  // Class counts of the config's heads, for datasets that name no classes. No model is built: a config without a
  // model section scores too.
  std::map<Task, int64_t> classes;
  const config::Config heads = config.at("model.heads");
  for (const std::string& name : heads.keys()) {
    const Task task = heads.task_named_by(name);
    const int64_t outputs = heads.get_non_negative_int(name + ".num_outputs");
    if (task_spec(task).channels == 0 && outputs > 0) classes[task] = outputs;
  }
  const eval::EvaluationResult result = eval::score_predictions(*source, setup.dataset, setup.options, classes, threads);
  eval::write_metrics_json(output_dir / "metrics.json", result);
  return result;
}

}  // namespace must::pipelines
