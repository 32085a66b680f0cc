#include "must/pipelines/student.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>

#include "must/core/check.h"
#include "must/core/strings.h"
#include "must/data/data_config.h"
#include "must/data/mixture.h"
#include "must/data/task_view.h"
#include "must/engine/train_defaults.h"
#include "must/eval/eval_config.h"
#include "must/labels/store_dataset.h"
#include "must/models/model_config.h"

namespace must::pipelines {
namespace {

// One source of `sources:` as a dataset.
std::shared_ptr<const data::Dataset> make_source(const config::Config& source) {
  const std::string store = source.get_string("store");
  const std::vector<Task> pseudo_tasks = source.get_task_list("pseudo_tasks");
  std::vector<Task> real_tasks = source.get_task_list("real_tasks");
  const data::DatasetOptions dataset_options = data::dataset_options_from_config(source.at("dataset"));
  std::shared_ptr<const data::Dataset> dataset;
  if (!dataset_options.root.empty() || !dataset_options.annotations.empty()) {
    dataset = data::make_dataset(dataset_options);
  }
  if (store.empty()) {
    if (!dataset) source.fail("store", "names neither a store nor a dataset (dataset.root)");
    if (!pseudo_tasks.empty()) source.fail("pseudo_tasks", "needs a store");
    if (real_tasks.empty()) real_tasks = dataset->info().tasks;
    for (Task task : real_tasks) {
      const auto& has = dataset->info().tasks;
      if (std::find(has.begin(), has.end(), task) == has.end()) {
        source.fail("real_tasks", dataset->info().name + " has no " + std::string(task_name(task)) + " labels");
      }
    }
    return std::make_shared<data::TaskView>(dataset, real_tasks);
  }
  labels::StoreDatasetOptions options;
  options.pseudo_tasks = pseudo_tasks;
  options.real_tasks = real_tasks;
  try {
    return std::make_shared<labels::StoreDataset>(store, dataset, options);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    source.fail("store", e.what());
  }
}

// The paper weighting's teacher values: the config's, else those each store's manifest records.
void teacher_values(const config::Config& weighting, const std::vector<std::shared_ptr<const data::Dataset>>& sources,
                    losses::WeightingOptions& options) {
  const config::Config teachers = weighting.at("teachers");
  for (const std::string& name : teachers.keys()) {
    const Task task = teachers.task_named_by(name);
    const double batch = teachers.get_float(name + ".batch_size"), lr = teachers.get_float(name + ".lr");
    if (batch > 0) options.teacher_batch_size[task] = batch;
    if (lr > 0) options.teacher_lr[task] = lr;
  }
  for (const auto& source : sources) {
    const auto* store = dynamic_cast<const labels::StoreDataset*>(source.get());
    if (!store) continue;
    for (const labels::TeacherRecord& teacher : store->reader().manifest().teachers) {
      if (!options.teacher_batch_size.count(teacher.task)) options.teacher_batch_size[teacher.task] = double(teacher.batch_size);
      if (!options.teacher_lr.count(teacher.task)) options.teacher_lr[teacher.task] = teacher.lr;
    }
  }
}

// Labels of a relative (or inverse relative) depth teacher need a loss blind to their scale and shift: ssi (of
// 1 / depth for inverse_relative) where the config names no depth loss; a loss that compares values is refused.
void relative_depth_loss(const config::Config& config, const std::vector<std::shared_ptr<const data::Dataset>>& sources,
                         TrainingData& data) {
  std::string kind, store_of_kind;
  for (const auto& source : sources) {
    const auto* store = dynamic_cast<const labels::StoreDataset*>(source.get());
    if (!store) continue;
    for (const labels::TeacherRecord& teacher : store->reader().manifest().teachers) {
      if (task_spec(teacher.task).target != TargetKind::kFloatMap || teacher.depth == "metric") continue;
      if (!kind.empty() && kind != teacher.depth) {
        config.fail("sources", "one store's depth labels are " + kind + " (" + store_of_kind + "), another's " +
                                   teacher.depth + " (" + store->info().name + "): no one loss fits both");
      }
      kind = teacher.depth, store_of_kind = store->info().name;
    }
  }
  const std::string key = "model.heads." + std::string(task_name(Task::kDepth));
  if (kind.empty() || !config.has(key)) return;
  const std::string fitting = kind == "relative" ? "ssi" : "ssi_inverse";
  const std::string named = config.get_string(key + ".loss.type");
  if (named.empty()) {
    data.default_losses[Task::kDepth] = fitting;
    spdlog::info("the depth labels of {} are {}: the depth head learns with the {} loss", store_of_kind, kind, fitting);
  } else if (named != fitting) {
    config.at(key).fail("loss.type", "the depth labels of " + store_of_kind + " are " + kind + " (its teacher's depth "
                                         "kind), which " + named + " would take as metres; use " + fitting +
                                         " or leave it empty");
  }
}

}  // namespace

std::string_view student_defaults() {
  return R"yaml(
student:
  epoch_length: 0             # samples per epoch drawn from the sources (0 = the sources' sizes summed)
  loss_weighting:
    type: fixed               # fixed, paper (MuST: w_i = b_s lr_i / (b_i lr_s) from the teachers) or uncertainty
    weights:                  # fixed: each task's weight (1 when not given)
      _any_: 1.0
    teachers:                 # paper: each teacher's global batch size and base rate (0 = as the manifest of the
      _any_: {batch_size: 0, lr: 0.0}  # first store with its task records them)
)yaml";
}

std::string_view student_schema() {
  static const std::string defaults = std::string(models::model_defaults()) + "\ndata:\n  eval:                       # what evaluation reads" +
                                      std::string(data::dataset_defaults()) + std::string(data::augment_and_loader_defaults()) +
                                      std::string(data::sources_defaults()) + std::string(student_defaults()) +
                                      std::string(eval::evaluation_defaults()) + std::string(engine::train_defaults());
  return defaults;
}
TrainingData student_training_data(const config::Config& config) {
  const config::Config sources = config.at("sources");
  if (sources.keys().empty()) config.fail("sources", "names no source to train on");
  std::vector<std::shared_ptr<const data::Dataset>> parts;
  std::vector<double> weights;
  for (const std::string& name : sources.keys()) {
    const config::Config source = sources.at(name);
    parts.push_back(make_source(source));
    weights.push_back(source.get_non_negative_float("weight"));
  }
  TrainingData data;
  auto mixture = std::make_shared<data::ConcatDataset>(parts);
  const int64_t epoch_length = config.get_non_negative_int("student.epoch_length");
  std::shared_ptr<data::SourceMixtureSampler> sampler;
  try {
    sampler = std::make_shared<data::SourceMixtureSampler>(*mixture, weights, epoch_length);
  } catch (const Error& e) {
    config.fail("sources", e.what());
  }
  const auto names = sources.keys();
  for (size_t p = 0; p < parts.size(); ++p) {
    std::vector<std::string> tasks;
    for (Task task : parts[p]->info().tasks) tasks.emplace_back(task_name(task));
    spdlog::info("source {}: {} ({} samples; {}): {} samples per epoch", names[p], parts[p]->info().name,
                 parts[p]->size(), join(tasks), sampler->shares()[p]);
  }
  data.dataset = mixture;
  data.sampler = sampler;
  data.config_key = "sources";

  const config::Config weighting = config.at("student.loss_weighting");
  data.weighting.type = weighting.get_string("type");
  if (!losses::weighting_registry().contains(data.weighting.type)) {
    weighting.fail("type", "unknown loss weighting '" + data.weighting.type + "'; known: " +
                               join(losses::weighting_registry().names()));
  }
  const config::Config fixed = weighting.at("weights");
  for (const std::string& name : fixed.keys()) data.weighting.weights[fixed.task_named_by(name)] = fixed.get_float(name);
  teacher_values(weighting, parts, data.weighting);
  relative_depth_loss(config, parts, data);
  return data;
}

void train_student(const config::Config& config, const TrainRun& run) {
  train_model(config, run, student_training_data(config));
}

}  // namespace must::pipelines
