// The pseudo-labeller's scheduler: teachers over a stream of batches on `lanes` threads at once, each lane's tensor
// work on `threads_per_lane` intra-op threads. On a CPU, teachers side by side on one core each label more images
// per second than one teacher at a time on every core: the detector's serial parts (proposal selection, NMS,
// per-image post-processing) and the OpenMP barriers of small layers leave cores idle that another teacher's
// convolutions fill. A teacher runs one batch at a time (its modules keep caches), batches in the order they came;
// a batch is done when every teacher has labelled it. Labels do not depend on which lane ran them: each (teacher,
// batch) runs with the same number of intra-op threads.
#pragma once

#include <torch/types.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "must/data/loader.h"

namespace must::pipelines {

class TeacherLanes {
 public:
  // Teacher `teacher`'s labels of a batch whose images are on the device: one encoded label per image.
  using LabelBatch =
      std::function<std::vector<std::string>(size_t teacher, const data::Batch& batch, const torch::Tensor& images)>;

  struct Job {
    data::Batch batch;
    torch::Tensor images;                          // on the device
    std::vector<std::vector<std::string>> labels;  // [teacher][image]: encoded labels
    std::vector<bool> started;                     // per teacher
    size_t finished = 0;                           // teachers done with this batch
  };

  TeacherLanes(size_t teachers, LabelBatch label, const torch::Device& device, int lanes, int threads_per_lane);
  ~TeacherLanes();
  TeacherLanes(const TeacherLanes&) = delete;
  TeacherLanes& operator=(const TeacherLanes&) = delete;

  // Batches submitted and not yet taken back; submit more while this is below capacity().
  size_t in_flight() const;
  size_t capacity() const { return threads_.size() + 1; }  // one batch ahead for a lane that finishes early

  // Seconds each teacher has spent labelling so far (its lane's time: with lanes side by side they add up to more
  // than the wall time).
  std::vector<double> teacher_seconds() const;

  void submit(data::Batch batch);
  // The oldest batch once every teacher has labelled it. Rethrows a lane's error.
  std::unique_ptr<Job> take_oldest();

 private:
  void run_lane(int threads);
  // The oldest batch with a teacher that has not started on it and is free; that teacher in `t`.
  Job* runnable(size_t& t);

  const size_t teachers_;
  const LabelBatch label_;
  const torch::Device device_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<Job>> jobs_;
  std::vector<bool> busy_;       // per teacher
  std::vector<double> seconds_;  // per teacher: time spent labelling so far
  std::exception_ptr error_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace must::pipelines
