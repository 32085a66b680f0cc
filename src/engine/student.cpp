#include "must/engine/student.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "must/core/check.h"
#include "must/core/strings.h"
#include "must/data/data_config.h"
#include "must/data/mixture.h"
#include "must/eval/eval_config.h"
#include "must/labels/store_dataset.h"
#include "must/models/model_config.h"

namespace must::engine {
namespace {

// The task `name`, which the config gives at `key` (named in the error when it is no task).
Task task_at(const config::Config& node, const std::string& key, const std::string& name) {
  try {
    return task_from_name(name);
  } catch (const ConfigError& e) {
    node.fail(key, e.what());
  }
}

std::vector<Task> tasks_at(const config::Config& node, const std::string& key) {
  std::vector<Task> tasks;
  for (const std::string& name : node.get_string_list(key)) tasks.push_back(task_at(node, key, name));
  return tasks;
}

// A labelled dataset limited to some of its tasks: the others are dropped from its samples.
class TaskSubset final : public data::Dataset {
 public:
  TaskSubset(std::shared_ptr<const data::Dataset> dataset, std::vector<Task> tasks)
      : dataset_(std::move(dataset)), tasks_(std::move(tasks)) {
    info_ = dataset_->info();
    info_.tasks = tasks_;
  }
  int64_t size() const override { return dataset_->size(); }
  std::string source(int64_t index) const override { return dataset_->source(index); }
  data::Sample get(int64_t index) const override {
    data::Sample sample = dataset_->get(index);
    for (auto it = sample.labels.begin(); it != sample.labels.end();) {
      it = std::count(tasks_.begin(), tasks_.end(), it->first) ? std::next(it) : sample.labels.erase(it);
    }
    if (!std::count(tasks_.begin(), tasks_.end(), Task::kDetection)) sample.instances.reset();
    return sample;
  }

 private:
  std::shared_ptr<const data::Dataset> dataset_;
  std::vector<Task> tasks_;
};

// One source of `sources:` as a dataset.
std::shared_ptr<const data::Dataset> make_source(const config::Config& source) {
  const std::string store = source.get_string("store");
  const std::vector<Task> pseudo_tasks = tasks_at(source, "pseudo_tasks");
  std::vector<Task> real_tasks = tasks_at(source, "real_tasks");
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
    return std::make_shared<TaskSubset>(dataset, real_tasks);
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

// The paper weighting's teacher values: the config's, else each store's teacher configs.
void teacher_values(const config::Config& weighting, const std::vector<std::shared_ptr<const data::Dataset>>& sources,
                    losses::WeightingOptions& options) {
  const config::Config teachers = weighting.at("teachers");
  for (const std::string& name : teachers.keys()) {
    const Task task = task_at(teachers, name, name);
    const double batch = teachers.get_float(name + ".batch_size"), lr = teachers.get_float(name + ".lr");
    if (batch > 0) options.teacher_batch_size[task] = batch;
    if (lr > 0) options.teacher_lr[task] = lr;
  }
  for (const auto& source : sources) {
    const auto* store = dynamic_cast<const labels::StoreDataset*>(source.get());
    if (!store) continue;
    for (const auto& teacher : store->reader().manifest().value("teachers", nlohmann::json::array())) {
      const Task task = task_from_name(teacher.value("task", ""));
      const YAML::Node resolved = YAML::Load(teacher.value("resolved_config", ""));
      if (!options.teacher_batch_size.count(task) && resolved["data"]["loader"]["batch_size"]) {
        options.teacher_batch_size[task] = resolved["data"]["loader"]["batch_size"].as<double>();
      }
      if (!options.teacher_lr.count(task) && resolved["train"]["optimizer"]["lr"]) {
        options.teacher_lr[task] = resolved["train"]["optimizer"]["lr"].as<double>();
      }
    }
  }
}

}  // namespace

std::string_view student_tool_defaults() {
  static const std::string defaults = std::string(models::model_defaults()) + "\ndata:\n  eval:                       # what evaluation reads" +
                                      std::string(data::dataset_defaults()) + std::string(data::augment_and_loader_defaults()) +
                                      std::string(data::sources_defaults()) + std::string(student_defaults()) +
                                      std::string(eval::evaluation_defaults()) + std::string(train_defaults());
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
    weights.push_back(source.get_float("weight"));
    if (weights.back() < 0) source.fail("weight", "must not be negative");
  }
  TrainingData data;
  auto mixture = std::make_shared<data::ConcatDataset>(parts);
  const int64_t epoch_length = config.get_int("student.epoch_length");
  if (epoch_length < 0) config.fail("student.epoch_length", "must not be negative");
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
  for (const std::string& name : fixed.keys()) data.weighting.weights[task_at(fixed, name, name)] = fixed.get_float(name);
  teacher_values(weighting, parts, data.weighting);
  return data;
}

void train_student(const config::Config& config, const TrainRun& run) {
  train_model(config, run, student_training_data(config));
}

}  // namespace must::engine
