// Named multi-scale features with their strides: what backbones return and heads consume.
// Keys are stable: backbone stages `res2..res5`, pyramid levels `p2..p6`. Ordered highest resolution first.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace must::structures {

// The shape a feature will have, known before any forward pass (what heads are built from).
struct FeatureSpec {
  std::string name;
  int64_t channels = 0;
  int64_t stride = 1;  // input pixels per feature pixel
};

class FeatureMap {
 public:
  void add(std::string name, torch::Tensor tensor, int64_t stride);
  // Throws must::Error listing the names it has when `name` is not one.
  const torch::Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
  int64_t stride(const std::string& name) const;

  size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<torch::Tensor>& tensors() const { return tensors_; }
  const std::vector<int64_t>& strides() const { return strides_; }

 private:
  size_t index(const std::string& name) const;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> tensors_;
  std::vector<int64_t> strides_;
};

}  // namespace must::structures
