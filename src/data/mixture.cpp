#include "must/data/mixture.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "must/core/check.h"
#include "must/core/random.h"

namespace must::data {

ConcatDataset::ConcatDataset(std::vector<std::shared_ptr<const Dataset>> parts) : parts_(std::move(parts)) {
  MUST_CHECK(!parts_.empty(), "a concatenation of no datasets");
  offsets_.push_back(0);
  for (const auto& part : parts_) {
    offsets_.push_back(offsets_.back() + part->size());
    info_.name += (info_.name.empty() ? "" : " + ") + part->info().name;
    for (const auto& [task, names] : part->info().class_names) {
      const auto [known, inserted] = info_.class_names.emplace(task, names);
      MUST_CHECK(inserted || known->second == names, part->info().name, " names its ", task_name(task),
                 " classes differently from an earlier source (", names.size(), " vs ", known->second.size(),
                 " classes, or another order)");
    }
  }
  for (const TaskSpec& spec : task_table()) {  // in task order, as readers list them
    const bool labelled = std::any_of(parts_.begin(), parts_.end(), [&](const auto& part) {
      const auto& tasks = part->info().tasks;
      return std::find(tasks.begin(), tasks.end(), spec.task) != tasks.end();
    });
    if (labelled) info_.tasks.push_back(spec.task);
  }
}

std::pair<size_t, int64_t> ConcatDataset::locate(int64_t index) const {
  MUST_CHECK(index >= 0 && index < size(), "sample ", index, " outside [0, ", size(), ") of ", info_.name);
  const size_t part = size_t(std::upper_bound(offsets_.begin(), offsets_.end(), index) - offsets_.begin()) - 1;
  return {part, index - offsets_[part]};
}

Sample ConcatDataset::get(int64_t index) const {
  const auto [part, local] = locate(index);
  return parts_[part]->get(local);
}

std::string ConcatDataset::source(int64_t index) const {
  const auto [part, local] = locate(index);
  return parts_[part]->source(local);
}

SourceMixtureSampler::SourceMixtureSampler(const ConcatDataset& dataset, std::vector<double> weights,
                                           int64_t epoch_length) {
  MUST_CHECK(weights.size() == dataset.part_count(), weights.size(), " weights for ", dataset.part_count(), " sources");
  double total = 0;
  for (size_t p = 0; p < weights.size(); ++p) {
    MUST_CHECK(weights[p] >= 0 && std::isfinite(weights[p]), "source ", dataset.part(p).info().name, ": weight ",
               weights[p], " is not a finite value >= 0");
    MUST_CHECK(weights[p] == 0 || dataset.part(p).size() > 0, "source ", dataset.part(p).info().name,
               " has a weight but no samples");
    offsets_.push_back(dataset.offset(p));
    sizes_.push_back(dataset.part(p).size());
    total += weights[p];
  }
  MUST_CHECK(total > 0, "no source has a positive weight");
  MUST_CHECK(epoch_length >= 0, "epoch length ", epoch_length, " is negative");
  epoch_length_ = epoch_length > 0 ? epoch_length : dataset.size();
  // Largest remainders: the floor of each exact share, then one more to the largest fractions until they add up.
  std::vector<double> remainders;
  int64_t given = 0;
  for (double weight : weights) {
    const double exact = double(epoch_length_) * weight / total;
    shares_.push_back(int64_t(std::floor(exact)));
    remainders.push_back(exact - std::floor(exact));
    given += shares_.back();
  }
  std::vector<size_t> by_remainder(weights.size());
  std::iota(by_remainder.begin(), by_remainder.end(), 0);
  std::stable_sort(by_remainder.begin(), by_remainder.end(),
                   [&](size_t a, size_t b) { return remainders[a] > remainders[b]; });
  for (size_t i = 0; given < epoch_length_; ++i, ++given) ++shares_[by_remainder[i % by_remainder.size()]];
}

std::vector<int64_t> SourceMixtureSampler::order(uint64_t seed, int64_t epoch) const {
  std::vector<int64_t> order;
  order.reserve(size_t(epoch_length_));
  for (size_t p = 0; p < shares_.size(); ++p) {
    if (shares_[p] == 0) continue;
    const int64_t begin = epoch * shares_[p], end = begin + shares_[p];  // positions in the part's stream
    std::vector<int64_t> pass;
    int64_t pass_index = -1;
    for (int64_t position = begin; position < end; ++position) {
      if (position / sizes_[p] != pass_index) {  // a new shuffled pass over the part
        pass_index = position / sizes_[p];
        pass.resize(size_t(sizes_[p]));
        std::iota(pass.begin(), pass.end(), offsets_[p]);
        std::mt19937_64 rng(mix_seed(seed ^ mix_seed(uint64_t(p) + 1) ^ mix_seed(mix_seed(uint64_t(pass_index)))));
        must::shuffle(pass, rng);
      }
      order.push_back(pass[size_t(position % sizes_[p])]);
    }
  }
  std::mt19937_64 rng(mix_seed(seed ^ mix_seed(uint64_t(epoch))));
  must::shuffle(order, rng);
  return order;
}

}  // namespace must::data
