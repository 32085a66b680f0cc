#include "teacher_lanes.h"

#include <torch/torch.h>

#include <chrono>

#include "must/core/check.h"
#include "must/data/loader.h"

namespace must::pipelines {

using Clock = std::chrono::steady_clock;

TeacherLanes::TeacherLanes(size_t teachers, LabelBatch label, const torch::Device& device, int lanes,
                           int threads_per_lane)
    : teachers_(teachers), label_(std::move(label)), device_(device), busy_(teachers, false), seconds_(teachers, 0.0) {
  for (int i = 0; i < lanes; ++i) threads_.emplace_back([this, threads_per_lane] { run_lane(threads_per_lane); });
}

TeacherLanes::~TeacherLanes() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& thread : threads_) thread.join();
}

size_t TeacherLanes::in_flight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return jobs_.size();
}

std::vector<double> TeacherLanes::teacher_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seconds_;
}

void TeacherLanes::submit(data::Batch batch) {
  auto job = std::make_unique<Job>();
  job->images = batch.images.tensors.to(device_);
  job->batch = std::move(batch);
  job->labels.resize(teachers_);
  job->started.assign(teachers_, false);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  changed_.notify_all();
}

std::unique_ptr<TeacherLanes::Job> TeacherLanes::take_oldest() {
  std::unique_lock<std::mutex> lock(mutex_);
  MUST_CHECK(!jobs_.empty(), "no batch in flight");
  changed_.wait(lock, [&] { return error_ || jobs_.front()->finished == teachers_; });
  if (error_) std::rethrow_exception(error_);
  std::unique_ptr<Job> job = std::move(jobs_.front());
  jobs_.pop_front();
  return job;
}

void TeacherLanes::run_lane(int threads) {
  data::use_intra_op_threads(threads);
  torch::NoGradGuard no_grad;  // thread-local: each lane sets its own
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    Job* job = nullptr;
    size_t t = 0;
    changed_.wait(lock, [&] { return stopping_ || error_ || (job = runnable(t)) != nullptr; });
    if (stopping_ || error_) return;
    job->started[t] = true;
    busy_[t] = true;
    lock.unlock();
    std::vector<std::string> labels;
    std::exception_ptr error;
    const auto start = Clock::now();
    try {
      labels = label_(t, job->batch, job->images);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    busy_[t] = false;
    seconds_[t] += std::chrono::duration<double>(Clock::now() - start).count();
    if (error && !error_) error_ = error;
    job->labels[t] = std::move(labels);
    ++job->finished;
    changed_.notify_all();
  }
}

TeacherLanes::Job* TeacherLanes::runnable(size_t& t) {
  for (auto& job : jobs_) {
    for (t = 0; t < teachers_; ++t) {
      if (!job->started[t] && !busy_[t]) return job.get();
    }
  }
  return nullptr;
}

}  // namespace must::pipelines
