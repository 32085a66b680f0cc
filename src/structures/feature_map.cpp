#include "must/structures/feature_map.h"

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must::structures {

void FeatureMap::add(std::string name, torch::Tensor tensor, int64_t stride) {
  MUST_CHECK(!contains(name), "feature '", name, "' added twice");
  MUST_CHECK(stride >= 1, "feature '", name, "' needs a positive stride, got ", stride);
  names_.push_back(std::move(name));
  tensors_.push_back(std::move(tensor));
  strides_.push_back(stride);
}

size_t FeatureMap::index(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  MUST_THROW(Error, "no feature named '", name, "'; this map has: ", join(names_));
}

const torch::Tensor& FeatureMap::at(const std::string& name) const { return tensors_[index(name)]; }

bool FeatureMap::contains(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

int64_t FeatureMap::stride(const std::string& name) const { return strides_[index(name)]; }

}  // namespace must::structures
