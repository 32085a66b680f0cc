// A dataset seen through some of its tasks, and optionally a contiguous range of its samples: sample i of the view
// is the dataset's sample first + i, its other tasks' labels dropped. The student's labelled sources (the tasks a
// source teaches), the pseudo-labeller's input shards (no task: the images alone), the store's pseudo tasks.
#pragma once

#include <memory>
#include <vector>

#include "must/data/dataset.h"

namespace must::data {

// Drops the sample's labels of every task not in `tasks` (detection: its instances).
void keep_only_tasks(Sample& sample, const std::vector<Task>& tasks);

class TaskView final : public Dataset {
 public:
  // count < 0: every sample from `first` on. Throws must::Error when the range lies outside the dataset.
  TaskView(std::shared_ptr<const Dataset> dataset, std::vector<Task> tasks, int64_t first = 0, int64_t count = -1);
  int64_t size() const override { return count_; }
  Sample get(int64_t index) const override;
  std::string source(int64_t index) const override { return dataset_->source(first_ + index); }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::vector<Task> tasks_;
  int64_t first_, count_;
};

}  // namespace must::data
