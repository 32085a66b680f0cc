#include "must/distributed/gradient_reducer.h"

#include <torch/torch.h>

#include <chrono>
#include <map>

#include "must/core/check.h"

namespace must::distributed {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void broadcast_from_root(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, const std::string& what) {
  std::map<torch::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, group_tensors] : by_type) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group_tensors) flat_parts.push_back(t.detach().reshape({-1}));
    torch::Tensor flat = torch::cat(flat_parts);
    group.broadcast(flat, /*root=*/0, what);
    torch::NoGradGuard no_grad;
    int64_t offset = 0;
    for (auto& t : group_tensors) {
      t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

GradientReducer::GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters,
                                 GradientReducerOptions options)
    : group_(group) {
  MUST_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0, "bucket sizes must be positive");
  for (auto& p : parameters) {
    if (p.requires_grad()) parameters_.push_back(p);
  }
  bucket_of_.resize(parameters_.size());
  slot_of_.resize(parameters_.size());
  has_gradient_.assign(parameters_.size(), false);
  // Reverse registration order: the heads' and the last layers' gradients come first in backward.
  std::vector<std::vector<size_t>> members;
  std::vector<int64_t> bytes;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const torch::Tensor& p = parameters_[k];
    const int64_t size = p.numel() * int64_t(p.element_size());
    // The bucket being filled takes it if the dtype agrees and it stays under its cap (the first bucket's is smaller).
    const bool fits = !members.empty() && parameters_[members.back().front()].scalar_type() == p.scalar_type() &&
                      bytes.back() + size <= (members.size() == 1 ? options.first_bucket_bytes : options.bucket_bytes);
    if (!fits) {
      members.emplace_back();
      bytes.push_back(0);
    }
    members.back().push_back(k);
    bytes.back() += size;
  }
  for (auto& list : members) {
    Bucket bucket;
    int64_t numel = 0;
    for (size_t k : list) {
      bucket_of_[k] = buckets_.size();
      slot_of_[k] = bucket.parameters.size();
      bucket.parameters.push_back(k);
      bucket.offsets.push_back(numel);
      numel += parameters_[k].numel();
    }
    const torch::Tensor& first = parameters_[list.front()];
    bucket.flat = torch::zeros({numel}, first.options().requires_grad(false));
    buckets_.push_back(std::move(bucket));
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    hooks_.push_back(parameters_[k].register_hook([this, k](const torch::Tensor& gradient) { on_gradient(k, gradient); }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < hooks_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientReducer::prepare() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& bucket : buckets_) {
    bucket.ready = 0;
  }
  has_gradient_.assign(parameters_.size(), false);
  next_to_launch_ = 0;
}

void GradientReducer::on_gradient(size_t k, const torch::Tensor& gradient) {
  std::lock_guard<std::mutex> lock(mutex_);
  Bucket& bucket = buckets_[bucket_of_[k]];
  MUST_CHECK(!has_gradient_[k], "parameter ", k, " received two gradients in one backward pass");
  const torch::Tensor& p = parameters_[k];
  bucket.flat.narrow(0, bucket.offsets[slot_of_[k]], p.numel()).view(p.sizes()).copy_(gradient);
  has_gradient_[k] = true;
  if (++bucket.ready == bucket.parameters.size()) launch_in_order();
}

void GradientReducer::launch_in_order() {
  while (next_to_launch_ < buckets_.size() && buckets_[next_to_launch_].ready == buckets_[next_to_launch_].parameters.size()) {
    Bucket& bucket = buckets_[next_to_launch_];
    bucket.pending = group_.all_reduce_sum(bucket.flat, "gradient bucket " + std::to_string(next_to_launch_));
    ++next_to_launch_;
  }
}

ReducedStep GradientReducer::finish(bool local_loss_finite) {
  ReducedStep out;
  const auto start = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // What backward left out: zeros in its place, so that every rank reduces every bucket.
    for (size_t b = next_to_launch_; b < buckets_.size(); ++b) {
      Bucket& bucket = buckets_[b];
      for (size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
        const size_t k = bucket.parameters[slot];
        if (has_gradient_[k]) continue;
        bucket.flat.narrow(0, bucket.offsets[slot], parameters_[k].numel()).zero_();
      }
      bucket.ready = bucket.parameters.size();
    }
    launch_in_order();
  }
  // Per parameter, how many ranks had a gradient; last, how many ranks' losses were not finite.
  torch::Tensor counts = torch::zeros({int64_t(parameters_.size()) + 1}, torch::kFloat);
  auto* c = counts.data_ptr<float>();
  for (size_t k = 0; k < parameters_.size(); ++k) c[k] = has_gradient_[k] ? 1.0f : 0.0f;
  c[parameters_.size()] = local_loss_finite ? 0.0f : 1.0f;
  ProcessGroup::Pending counted = group_.all_reduce_sum(counts, "gradient presence");
  for (auto& bucket : buckets_) bucket.pending.wait();
  counted.wait();
  out.communication_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.any_rank_non_finite = c[parameters_.size()] > 0;
  const double scale = 1.0 / group_.world_size();
  for (auto& bucket : buckets_) {
    bucket.flat.mul_(scale);
    for (size_t slot = 0; slot < bucket.parameters.size(); ++slot) {
      const size_t k = bucket.parameters[slot];
      torch::Tensor& p = parameters_[k];
      if (c[k] == 0) {
        p.mutable_grad().reset();  // no rank used it: as in one process, the optimizer leaves it alone
        continue;
      }
      // Into the gradient backward left (no view of the bucket: optimizers' zero_grad() detaches gradients in
      // place, which a view refuses).
      const torch::Tensor averaged = bucket.flat.narrow(0, bucket.offsets[slot], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(averaged);
      } else {
        p.mutable_grad() = averaged.clone();
      }
    }
  }
  return out;
}

}  // namespace must::distributed
