#include "must/ops/matcher.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::ops {

torch::Tensor Matcher::operator()(const torch::Tensor& quality, const torch::Tensor& ignore) const {
  MUST_CHECK(quality.dim() == 2, "match quality should be [ground truths, predictions], got ", quality.sizes());
  MUST_CHECK(low_ <= high_, "matcher thresholds: low ", low_, " above high ", high_);
  const int64_t n = quality.size(1);
  const auto long_options = quality.options().dtype(torch::kLong);
  const bool has_ignore = ignore.defined() && ignore.any().item<bool>();
  torch::Tensor real = quality;
  if (has_ignore) {
    MUST_CHECK(ignore.dim() == 1 && ignore.size(0) == quality.size(0), "ignore should be [", quality.size(0), "]");
    real = quality.masked_fill(ignore.to(torch::kBool).unsqueeze(1), -1.0);  // never a match
  }
  if (quality.size(0) == 0) return torch::full({n}, kBelowLow, long_options);

  auto [best, matches] = real.max(0);
  const torch::Tensor all_matches = matches.clone();
  matches = matches.masked_fill(best < low_, kBelowLow).masked_fill((best >= low_) & (best < high_), kBetween);
  if (allow_low_quality_) {
    // Each ground truth also takes its best predictions (every one that ties), as torchvision.
    const torch::Tensor best_per_gt = std::get<0>(real.max(1, /*keepdim=*/true));
    torch::Tensor is_best = (real == best_per_gt) & (best_per_gt > -1.0);
    const torch::Tensor preds = is_best.nonzero().select(1, 1);
    matches = matches.index_put({preds}, all_matches.index_select(0, preds));
  }
  if (has_ignore) {
    const torch::Tensor ignore_overlap =
        std::get<0>(quality.masked_fill(ignore.to(torch::kBool).logical_not().unsqueeze(1), -1.0).max(0));
    matches = matches.masked_fill((matches < 0) & (ignore_overlap >= low_), kBetween);
  }
  return matches;
}

}  // namespace must::ops
