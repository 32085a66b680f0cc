#include "must/data/task_view.h"

#include <algorithm>

#include "must/core/check.h"

namespace must::data {

void keep_only_tasks(Sample& sample, const std::vector<Task>& tasks) {
  auto kept = [&](Task task) { return std::find(tasks.begin(), tasks.end(), task) != tasks.end(); };
  for (auto it = sample.labels.begin(); it != sample.labels.end();) {
    it = kept(it->first) ? std::next(it) : sample.labels.erase(it);
  }
  if (!kept(Task::kDetection)) sample.instances.reset();
}

TaskView::TaskView(std::shared_ptr<const Dataset> dataset, std::vector<Task> tasks, int64_t first, int64_t count)
    : dataset_(std::move(dataset)), tasks_(std::move(tasks)), first_(first),
      count_(count < 0 ? dataset_->size() - first : count) {
  MUST_CHECK(first_ >= 0 && count_ >= 0 && first_ + count_ <= dataset_->size(), dataset_->info().name, ": samples [",
             first_, ", ", first_ + count_, ") outside its ", dataset_->size());
  info_ = dataset_->info();
  info_.tasks = tasks_;
}

Sample TaskView::get(int64_t index) const {
  Sample sample = dataset_->get(first_ + index);
  keep_only_tasks(sample, tasks_);
  return sample;
}

}  // namespace must::data
