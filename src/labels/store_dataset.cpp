#include "must/labels/store_dataset.h"

#include <torch/torch.h>

#include <algorithm>

#include "must/core/check.h"
#include "must/data/task_view.h"
#include "must/data/transforms.h"

namespace must::labels {

namespace {

bool has_task(const std::vector<Task>& tasks, Task task) {
  return std::find(tasks.begin(), tasks.end(), task) != tasks.end();
}

}  // namespace

StoreDataset::StoreDataset(const std::filesystem::path& store, std::shared_ptr<const data::Dataset> images,
                           StoreDatasetOptions options)
    : reader_(store), images_(std::move(images)), options_(std::move(options)) {
  info_.name = "store " + store.string();
  const InputRecord& input = reader_.manifest().input;
  const bool packed = reader_.manifest().policy.pack_images;
  if (!images_ && (!packed || !options_.real_tasks.empty())) {  // the input as the manifest names it
    data::DatasetOptions made_from;
    made_from.format = input.format;
    made_from.root = input.root;
    made_from.split = input.split;
    try {
      images_ = data::make_dataset(made_from);
    } catch (const Error& e) {
      MUST_THROW(Error, store.string(), " does not pack its images and its input (", made_from.format, " at ",
                 made_from.root.string(), ") does not open: ", e.what(), "; give the dataset it was made from");
    }
  }
  if (images_) {  // the same images in the same order, or the labels would go to other images
    MUST_CHECK(images_->size() == input.count && input_list_sha256(*images_) == input.list_sha256, store.string(),
               " was made from other images than ", images_->info().name, " (", images_->size(),
               " images; the store's input had ", input.count, ", or their names or order differ)");
  }
  if (options_.pseudo_tasks.empty()) options_.pseudo_tasks = reader_.tasks();
  for (Task task : options_.pseudo_tasks) {
    MUST_CHECK(has_task(reader_.tasks(), task), store.string(), " has no ", task_name(task), " labels");
  }
  for (Task task : options_.real_tasks) {
    MUST_CHECK(images_ && has_task(images_->info().tasks, task), "the input dataset of ", store.string(), " (",
               images_ ? images_->info().name : std::string("none"), ") has no ", task_name(task), " labels");
  }
  // In task order, as readers list them.
  for (const TaskSpec& spec : task_table()) {
    if (has_task(options_.pseudo_tasks, spec.task) || has_task(options_.real_tasks, spec.task)) {
      info_.tasks.push_back(spec.task);
    }
  }
  for (Task task : options_.real_tasks) {
    const auto names = images_->info().class_names.find(task);
    if (names != images_->info().class_names.end()) info_.class_names[task] = names->second;
  }
}

data::Sample StoreDataset::get(int64_t index) const {
  MUST_CHECK(index >= 0 && index < size(), "store sample ", index, " outside [0, ", size(), ")");
  const std::string& key = reader_.keys()[size_t(index)];
  const nlohmann::json record = reader_.record(key);
  data::Sample sample = reader_.get(key, record);
  // The store's labels of the tasks asked for, at the image's size.
  data::keep_only_tasks(sample, options_.pseudo_tasks);
  const auto original = record.at("original_size").get<std::array<int64_t, 2>>();
  for (auto& [task, label] : sample.labels) label = data::resize_label(label, task, original[0], original[1]);
  if (sample.encoded.empty() || !options_.real_tasks.empty()) {
    data::Sample input = images_->get(record.at("index").get<int64_t>());
    if (sample.encoded.empty()) {
      sample.encoded = std::move(input.encoded);
      sample.image = std::move(input.image);  // readers of records give decoded images
    }
    for (Task task : options_.real_tasks) {  // a real label wins over the pseudo one
      if (!input.has(task)) continue;
      if (task == Task::kDetection) {
        sample.instances = std::move(input.instances);
      } else {
        sample.labels[task] = std::move(input.labels.at(task));
      }
    }
  }
  return sample;
}

}  // namespace must::labels
