// Several datasets as one, and the order in which training draws from them by weight: the student's `sources:`
// (docs/architecture.md), e.g. a pseudo-labelled store of unlabelled images beside a labelled dataset.
//
// ConcatDataset: index i of the whole is index i - offset(p) of part p (parts in the order given). Its samples
// keep the labels their part gives them: a task a part does not label is absent from that part's samples, so it
// adds no loss for them (never a zero label).
//
// SourceMixtureSampler: one epoch is `epoch_length` samples (default: the parts' sizes summed), part p's share
// n_p of them proportional to its weight (largest remainders, so the shares add up exactly). Part p's samples in
// epoch e are the positions [e n_p, (e + 1) n_p) of an endless stream of its own shuffled passes (pass k shuffled
// by (seed, p, k)): over the epochs every sample of a part comes equally often, whether its share is smaller
// (a subset per epoch) or larger (repeats) than the part. The epoch's samples are then shuffled together by
// (seed, epoch). The loader shards that order across ranks as any other, so batches are a pure function of
// (seed, epoch, rank, world size).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "must/data/dataset.h"
#include "must/data/loader.h"

namespace must::data {

class ConcatDataset final : public Dataset {
 public:
  // Throws must::Error when two parts name the classes of one task differently.
  explicit ConcatDataset(std::vector<std::shared_ptr<const Dataset>> parts);
  int64_t size() const override { return offsets_.back(); }
  Sample get(int64_t index) const override;
  std::string source(int64_t index) const override;
  size_t part_count() const { return parts_.size(); }
  const Dataset& part(size_t p) const { return *parts_[p]; }
  int64_t offset(size_t p) const { return offsets_[p]; }  // the index of part p's first sample

 private:
  std::pair<size_t, int64_t> locate(int64_t index) const;  // (part, index in the part)

  std::vector<std::shared_ptr<const Dataset>> parts_;
  std::vector<int64_t> offsets_;  // part_count() + 1 entries
};

class SourceMixtureSampler final : public EpochSampler {
 public:
  // One weight (>= 0, at least one positive) per part of `dataset`. A part with a positive weight must not be
  // empty. epoch_length 0: the parts' sizes summed. Throws must::Error otherwise.
  SourceMixtureSampler(const ConcatDataset& dataset, std::vector<double> weights, int64_t epoch_length = 0);
  std::vector<int64_t> order(uint64_t seed, int64_t epoch) const override;
  int64_t epoch_length() const override { return epoch_length_; }
  const std::vector<int64_t>& shares() const { return shares_; }  // samples of each part per epoch

 private:
  std::vector<int64_t> offsets_, sizes_, shares_;
  int64_t epoch_length_ = 0;
};

}  // namespace must::data
