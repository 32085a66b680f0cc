#include "must/models/fpn.h"

#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"

namespace must::models {
namespace {

namespace nn = torch::nn;

// torchvision wraps each conv in Conv2dNormActivation (a Sequential), hence the ".0" in the names.
nn::Sequential conv_block(int64_t in, int64_t out, int64_t kernel) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  nn::init::kaiming_uniform_(conv->weight, /*a=*/1);
  nn::init::zeros_(conv->bias);
  return nn::Sequential(conv);
}

std::string level_name(int64_t stride) { return "p" + std::to_string(int(std::lround(std::log2(double(stride))))); }

}  // namespace

FpnImpl::FpnImpl(FpnOptions options) : options_(std::move(options)) {
  MUST_CHECK(!options_.in_features.empty(), "an FPN needs at least one input feature");
  MUST_CHECK(options_.out_channels > 0, "FPN out_channels must be positive, got ", options_.out_channels);
  inner_blocks = register_module("inner_blocks", nn::ModuleList());
  layer_blocks = register_module("layer_blocks", nn::ModuleList());
  for (const auto& feature : options_.in_features) {
    inner_blocks->push_back(conv_block(feature.channels, options_.out_channels, 1));
    layer_blocks->push_back(conv_block(options_.out_channels, options_.out_channels, 3));
    shapes_.push_back({level_name(feature.stride), options_.out_channels, feature.stride});
  }
  if (options_.top_max_pool) {
    const int64_t stride = options_.in_features.back().stride * 2;
    shapes_.push_back({level_name(stride), options_.out_channels, stride});
  }
}

void FpnImpl::fuse_for_inference() {
  MUST_CHECK(!is_training(), "fuse_for_inference() is for eval mode; call eval() first");
  if (!fused_inference_available()) return;
  auto first_conv = [](const std::shared_ptr<nn::Module>& block) {
    return nn::Conv2d(std::dynamic_pointer_cast<nn::Conv2dImpl>(block->as<nn::Sequential>()->ptr(0)));
  };
  fused_inner_.clear();
  fused_layer_.clear();
  for (size_t i = 0; i < inner_blocks->size(); ++i) {
    fused_inner_.emplace_back(first_conv(inner_blocks[i]), BatchNorm2d(nullptr));
    fused_layer_.emplace_back(first_conv(layer_blocks[i]), BatchNorm2d(nullptr));
  }
}

void FpnImpl::train(bool on) {
  if (on) fused_inner_.clear(), fused_layer_.clear();
  nn::Module::train(on);
}

torch::Tensor FpnImpl::inner(size_t i, const torch::Tensor& x) {
  if (!fused_inner_.empty() && !is_training()) return fused_inner_[i].on_dense(x);
  return inner_blocks[i]->as<nn::Sequential>()->forward(x);
}

torch::Tensor FpnImpl::layer(size_t i, const torch::Tensor& x) {
  if (!fused_layer_.empty() && !is_training()) return fused_layer_[i].on_dense(x);
  return layer_blocks[i]->as<nn::Sequential>()->forward(x);
}

structures::FeatureMap FpnImpl::forward(const structures::FeatureMap& bottom_up) {
  const size_t n = options_.in_features.size();
  std::vector<torch::Tensor> results(n);
  torch::Tensor last_inner = inner(n - 1, bottom_up.at(options_.in_features[n - 1].name));
  results[n - 1] = layer(n - 1, last_inner);
  for (size_t i = n - 1; i-- > 0;) {
    const torch::Tensor lateral = inner(i, bottom_up.at(options_.in_features[i].name));
    const auto size = lateral.sizes().slice(2);
    last_inner = lateral + torch::nn::functional::interpolate(
                               last_inner, torch::nn::functional::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>(size.begin(), size.end()))
                                               .mode(torch::kNearest));
    results[i] = layer(i, last_inner);
  }
  structures::FeatureMap pyramid;
  for (size_t i = 0; i < n; ++i) pyramid.add(shapes_[i].name, results[i], shapes_[i].stride);
  if (options_.top_max_pool) pyramid.add(shapes_[n].name, torch::max_pool2d(results[n - 1], 1, 2, 0), shapes_[n].stride);
  return pyramid;
}

}  // namespace must::models
