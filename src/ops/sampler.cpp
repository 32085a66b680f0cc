#include "must/ops/sampler.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::ops {
namespace {

// `count` of the indices in `candidates` (ascending), chosen at random or the first ones; as a mask over n.
torch::Tensor choose(const torch::Tensor& candidates, int64_t count, int64_t n, bool random) {
  torch::Tensor mask = torch::zeros({n}, candidates.options().dtype(torch::kBool));
  if (count == 0) return mask;
  const torch::Tensor order = random ? torch::randperm(candidates.size(0), candidates.options().dtype(torch::kLong))
                                     : torch::arange(candidates.size(0), candidates.options().dtype(torch::kLong));
  return mask.index_fill_(0, candidates.index_select(0, order.narrow(0, 0, count)), true);
}

}  // namespace

BalancedSampler::BalancedSampler(int64_t batch_size_per_image, double positive_fraction, bool random)
    : batch_size_per_image_(batch_size_per_image), positive_fraction_(positive_fraction), random_(random) {
  MUST_CHECK(batch_size_per_image > 0, "sampler: batch_size_per_image must be positive, got ", batch_size_per_image);
  MUST_CHECK(positive_fraction >= 0 && positive_fraction <= 1, "sampler: positive_fraction must lie in [0, 1], got ",
             positive_fraction);
}

std::pair<torch::Tensor, torch::Tensor> BalancedSampler::operator()(const torch::Tensor& labels) const {
  MUST_CHECK(labels.dim() == 1, "sampler: labels should be [N], got ", labels.sizes());
  const torch::Tensor positive = (labels >= 1).nonzero().view({-1});
  const torch::Tensor negative = (labels == 0).nonzero().view({-1});
  const int64_t num_positive =
      std::min(positive.size(0), int64_t(double(batch_size_per_image_) * positive_fraction_));
  const int64_t num_negative = std::min(negative.size(0), batch_size_per_image_ - num_positive);
  return {choose(positive, num_positive, labels.size(0), random_),
          choose(negative, num_negative, labels.size(0), random_)};
}

}  // namespace must::ops
