#include "must/models/resnet.h"

#include <torch/torch.h>

#include "must/core/check.h"

namespace must::models {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

struct Layout {
  std::vector<int> blocks;
  bool bottleneck;
};

Layout layout_of(int depth) {
  switch (depth) {
    case 18: return {{2, 2, 2, 2}, false};
    case 34: return {{3, 4, 6, 3}, false};
    case 50: return {{3, 4, 6, 3}, true};
    case 101: return {{3, 4, 23, 3}, true};
    case 152: return {{3, 8, 36, 3}, true};
  }
  MUST_THROW(ConfigError, "ResNet depth must be 18, 34, 50, 101 or 152, got ", depth);
}

int64_t stage_width(const ResNetOptions& options, int stage) {
  return std::max<int64_t>(8, int64_t(std::lround((64 << stage) * options.width_multiplier())));
}

}  // namespace

ResidualBlockImpl::ResidualBlockImpl(int64_t in_channels, int64_t width, int64_t stride, bool bottleneck,
                                     bool frozen_batch_norm)
    : bottleneck_(bottleneck) {
  const int64_t out_channels = width * expansion(bottleneck);
  auto norm = [&](int64_t c) { return BatchNorm2d(BatchNorm2dOptions(c).frozen(frozen_batch_norm)); };
  if (bottleneck) {
    conv1 = register_module("conv1", conv(in_channels, width, 1, 1, 0));
    bn1 = register_module("bn1", norm(width));
    conv2 = register_module("conv2", conv(width, width, 3, stride, 1));
    bn2 = register_module("bn2", norm(width));
    conv3 = register_module("conv3", conv(width, out_channels, 1, 1, 0));
    bn3 = register_module("bn3", norm(out_channels));
  } else {
    conv1 = register_module("conv1", conv(in_channels, width, 3, stride, 1));
    bn1 = register_module("bn1", norm(width));
    conv2 = register_module("conv2", conv(width, width, 3, 1, 1));
    bn2 = register_module("bn2", norm(width));
  }
  if (stride != 1 || in_channels != out_channels) {
    downsample = register_module("downsample", nn::Sequential(conv(in_channels, out_channels, 1, stride, 0),
                                                              norm(out_channels)));
  }
}

void ResidualBlockImpl::fuse_for_inference() {
  Fused fused;
  fused.conv1 = FusedConv2d(conv1, bn1);
  fused.conv2 = FusedConv2d(conv2, bn2);
  if (bottleneck_) fused.conv3 = FusedConv2d(conv3, bn3);
  if (downsample) {
    fused.downsample = FusedConv2d(nn::Conv2d(std::dynamic_pointer_cast<nn::Conv2dImpl>(downsample->ptr(0))),
                                   BatchNorm2d(std::dynamic_pointer_cast<BatchNorm2dImpl>(downsample->ptr(1))));
  }
  fused_ = std::move(fused);
}

void ResidualBlockImpl::train(bool on) {
  if (on) fused_.reset();
  nn::Module::train(on);
}

torch::Tensor ResidualBlockImpl::forward_fused(const torch::Tensor& x) const {
  torch::Tensor out = fused_->conv2(fused_->conv1(x).relu_());
  if (bottleneck_) out = fused_->conv3(out.relu_());
  out = out + (downsample ? fused_->downsample(x) : x);
  return out.relu_();
}

torch::Tensor ResidualBlockImpl::forward(torch::Tensor x) {
  if (fused_ && !is_training()) return forward_fused(x);
  torch::Tensor out = bn1->forward_relu(conv1(x));
  out = bottleneck_ ? bn3(conv3(bn2->forward_relu(conv2(out)))) : bn2(conv2(out));
  out += downsample ? downsample->forward(x) : x;
  return out.relu_();
}

ResNetImpl::ResNetImpl(ResNetOptions options) : options_(options) {
  const Layout layout = layout_of(options.depth());
  MUST_CHECK(options.width_multiplier() > 0, "ResNet width_multiplier must be positive, got ",
             options.width_multiplier());
  MUST_CHECK(options.freeze_at() >= 0 && options.freeze_at() <= 5, "ResNet freeze_at must lie in [0, 5], got ",
             options.freeze_at());
  const bool frozen_bn = options.frozen_batch_norm();
  const int64_t stem = stage_width(options, 0);
  conv1 = register_module("conv1", options.small_input_stem() ? conv(3, stem, 3, 1, 1) : conv(3, stem, 7, 2, 3));
  bn1 = register_module("bn1", BatchNorm2d(BatchNorm2dOptions(stem).frozen(frozen_bn)));
  int64_t channels = stem;
  for (int s = 0; s < 4; ++s) {
    const int64_t width = stage_width(options, s);
    nn::Sequential stage;
    for (int b = 0; b < layout.blocks[s]; ++b) {
      const int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      stage->push_back(ResidualBlock(channels, width, stride, layout.bottleneck, frozen_bn));
      channels = width * ResidualBlockImpl::expansion(layout.bottleneck);
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  shapes_ = output_shape_of(options);
  if (options.num_classes() > 0) fc = register_module("fc", nn::Linear(channels, options.num_classes()));

  // torchvision's initialisation.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut, torch::kReLU);
  }
  if (options.freeze_at() >= 1) {
    freeze(*conv1);
    freeze(*bn1);
  }
  for (int s = 0; s + 2 <= options.freeze_at() && s < 4; ++s) freeze(*stages_[size_t(s)]);
  if (options.channels_last()) to_channels_last(*this);
}

void ResNetImpl::fuse_for_inference() {
  MUST_CHECK(!is_training(), "fuse_for_inference() is for eval mode; call eval() first");
  if (!fused_inference_available()) return;
  fused_stem_ = FusedConv2d(conv1, bn1);
  for (auto& stage : stages_) {
    for (auto& block : *stage) block.get<ResidualBlockImpl>().fuse_for_inference();
  }
}

void ResNetImpl::train(bool on) {
  if (on) fused_stem_.reset();
  nn::Module::train(on);
}

structures::FeatureMap ResNetImpl::forward_features(torch::Tensor x) {
  const bool fused = fused_stem_ && !is_training();
  if (fused) {
    x = (*fused_stem_)(x.contiguous().to_mkldnn()).relu_();
  } else {
    if (options_.channels_last()) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    x = bn1->forward_relu(conv1(x));
  }
  if (!options_.small_input_stem()) x = torch::max_pool2d(x, 3, 2, 1);
  structures::FeatureMap features;
  for (size_t s = 0; s < stages_.size(); ++s) {
    x = stages_[s]->forward(x);
    features.add(shapes_[s].name, fused ? x.to_dense() : x, shapes_[s].stride);
  }
  return features;
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  MUST_CHECK(!fc.is_empty(), "this ResNet has no classifier (num_classes = 0); use forward_features");
  const torch::Tensor c5 = forward_features(std::move(x)).at("res5");
  return fc(torch::adaptive_avg_pool2d(c5, {1, 1}).flatten(1));
}

std::vector<structures::FeatureSpec> ResNetImpl::output_shape() const { return shapes_; }

std::vector<structures::FeatureSpec> ResNetImpl::output_shape_of(const ResNetOptions& options) {
  const Layout layout = layout_of(options.depth());
  std::vector<structures::FeatureSpec> shapes;
  for (int s = 0; s < 4; ++s) {
    shapes.push_back({"res" + std::to_string(s + 2), stage_width(options, s) * ResidualBlockImpl::expansion(layout.bottleneck),
                      (options.small_input_stem() ? int64_t(1) : int64_t(4)) << s});
  }
  return shapes;
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

}  // namespace must::models
