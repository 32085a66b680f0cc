#include "must/models/heads.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/models/batch_norm.h"
#include "must/models/detection_head.h"
#include "must/ops/resize.h"

namespace must::models {
namespace {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

}  // namespace

int64_t outputs_of(const HeadOptions& options) {
  const int64_t n = options.num_outputs > 0 ? options.num_outputs : task_spec(options.task).channels;
  if (n <= 0) {
    MUST_THROW(ConfigError, "the ", task_name(options.task), " head needs num_outputs (the number of classes)");
  }
  return n;
}

HeadInput head_input(Task task) {
  switch (task_spec(task).target) {
    case TargetKind::kClassVector: return HeadInput::kBackbone;
    case TargetKind::kBoxes: return HeadInput::kPyramid;
    case TargetKind::kClassMap:
    case TargetKind::kFloatMap:
    case TargetKind::kUnitVectorMap: return HeadInput::kDenseTrunk;
  }
  MUST_THROW(Error, "no head input for task ", task_name(task));
}

TensorHeadImpl::TensorHeadImpl(const HeadOptions& options)
    : TaskHeadImpl(options.task), loss_(losses::make_task_loss(options.task, options.loss)) {}

HeadOutput TensorHeadImpl::forward(const HeadInputs& inputs, const structures::TaskTargets* targets) {
  HeadOutput out;
  if (targets && is_training()) {
    out.losses = training_losses(inputs, *targets);
    return out;
  }
  out.prediction = predict(inputs);
  if (targets) out.losses = (*loss_)(out.prediction, *targets);
  return out;
}

losses::LossDict TensorHeadImpl::training_losses(const HeadInputs& inputs, const structures::TaskTargets& targets) {
  return (*loss_)(predict(inputs), targets);
}

ClassificationHeadImpl::ClassificationHeadImpl(const HeadOptions& options) : TensorHeadImpl(options) {
  MUST_CHECK(options.in_channels > 0, "classification head: in_channels must be set");
  fc = register_module("fc", nn::Linear(options.in_channels, outputs_of(options)));
}

torch::Tensor ClassificationHeadImpl::predict(const HeadInputs& inputs) {
  return fc(torch::adaptive_avg_pool2d(inputs.backbone.at("res5"), {1, 1}).flatten(1));
}

DenseHeadImpl::DenseHeadImpl(const HeadOptions& options, DenseActivation activation)
    : TensorHeadImpl(options), activation_(activation) {
  const int64_t c = options.in_channels;
  MUST_CHECK(c > 0, task_name(options.task), " head: in_channels must be set");
  convs = register_module("convs", nn::Sequential());
  for (int i = 0; i < options.num_convs; ++i) {
    convs->push_back(nn::Conv2d(nn::Conv2dOptions(c, c, 3).padding(1).bias(false)));
    convs->push_back(BatchNorm2d(BatchNorm2dOptions(c)));
    convs->push_back(nn::Functional([](const torch::Tensor& x) { return x.relu(); }));
  }
  predictor = register_module("predictor", nn::Conv2d(nn::Conv2dOptions(c, outputs_of(options), 1)));
  for (auto& module : modules(false)) {
    if (auto* conv = module->as<nn::Conv2d>()) nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
  }
}

void DenseHeadImpl::fuse_for_inference() {
  MUST_CHECK(!is_training(), "fuse_for_inference() is for eval mode; call eval() first");
  if (!fused_inference_available()) return;
  fused_.clear();
  for (size_t i = 0; i + 2 < convs->size(); i += 3) {  // conv, batch norm, ReLU
    fused_.emplace_back(nn::Conv2d(std::dynamic_pointer_cast<nn::Conv2dImpl>(convs->ptr(i))),
                        BatchNorm2d(std::dynamic_pointer_cast<BatchNorm2dImpl>(convs->ptr(i + 1))));
  }
  fused_.emplace_back(predictor, BatchNorm2d(nullptr));
}

void DenseHeadImpl::train(bool on) {
  if (on) fused_.clear();
  nn::Module::train(on);
}

torch::Tensor DenseHeadImpl::low_resolution(const HeadInputs& inputs) {
  MUST_CHECK(inputs.dense.defined(), "dense head ", task_name(task()), " needs the dense trunk");
  if (!fused_.empty() && !is_training()) {
    torch::Tensor x = inputs.dense.contiguous().to_mkldnn();
    for (size_t i = 0; i + 1 < fused_.size(); ++i) x = fused_[i](x).relu_();
    return fused_.back()(x).to_dense();
  }
  torch::Tensor x = inputs.dense;
  for (size_t i = 0; i + 2 < convs->size(); i += 3) {  // conv, batch norm, ReLU (fused with the batch norm)
    x = convs[i + 1]->as<BatchNorm2d>()->forward_relu(convs[i]->as<nn::Conv2d>()->forward(x));
  }
  return predictor(x);
}

torch::Tensor DenseHeadImpl::predict(const HeadInputs& inputs) {
  return finish(low_resolution(inputs), inputs.image_size);
}

losses::LossDict DenseHeadImpl::training_losses(const HeadInputs& inputs, const structures::TaskTargets& targets) {
  MUST_CHECK(targets.values.dim() >= 3 && targets.values.size(-2) == inputs.image_size[0] &&
                 targets.values.size(-1) == inputs.image_size[1],
             task_name(task()), " targets ", targets.values.sizes(), " do not match the images' size ",
             inputs.image_size);
  const torch::Tensor low = low_resolution(inputs);
  if (activation_ == DenseActivation::kNone) return loss().of_upsampled(low, targets);
  return loss()(finish(low, inputs.image_size), targets);
}

torch::Tensor DenseHeadImpl::finish(const torch::Tensor& low_resolution, const std::vector<int64_t>& size) const {
  torch::Tensor out = ops::resize_bilinear(low_resolution, size);
  switch (activation_) {
    case DenseActivation::kNone: return out;
    case DenseActivation::kSoftplus: return F::softplus(out);
    // F::normalize's norm over the 3 channels of an NCHW map takes ATen's strided reduction path (72 ms of a
    // 2.8 s ResNet-50-FPN batch, measured); the same x / max(|x|, eps) from elementwise ops takes a few.
    case DenseActivation::kL2Normalize: return out / out.square().sum(1, /*keepdim=*/true).sqrt().clamp_min(1e-12);
  }
  return out;
}

DenseTrunkImpl::DenseTrunkImpl(DenseTrunkOptions options) : options_(std::move(options)) {
  MUST_CHECK(!options_.levels.empty(), "the dense trunk needs at least one pyramid level");
  const int64_t in = options_.levels.front().channels;
  for (const auto& level : options_.levels) {
    MUST_CHECK(level.channels == in, "dense trunk levels must have equal channels; ", level.name, " has ",
               level.channels, ", not ", in);
  }
  reduce = register_module("reduce", nn::Conv2d(nn::Conv2dOptions(in, options_.out_channels, 1)));
}

torch::Tensor DenseTrunkImpl::forward(const structures::FeatureMap& pyramid) {
  const torch::Tensor& finest = pyramid.at(options_.levels.front().name);
  const std::vector<int64_t> size = {finest.size(2), finest.size(3)};
  torch::Tensor fused = finest;
  for (size_t i = 1; i < options_.levels.size(); ++i) {
    const torch::Tensor level = ops::resize_bilinear(pyramid.at(options_.levels[i].name), size);
    fused = i == 1 ? finest + level : fused.add_(level);  // the first sum is a new tensor; the rest add into it
  }
  return reduce(fused);
}

HeadRegistry& head_registry() {
  static HeadRegistry* registry = [] {
    auto* r = new HeadRegistry("head");
    r->add("classification", [](const HeadOptions& o) { return std::make_shared<ClassificationHeadImpl>(o); });
    r->add("detection", [](const HeadOptions& o) { return std::make_shared<DetectionHeadImpl>(o); });
    r->add("segmentation", [](const HeadOptions& o) { return std::make_shared<DenseHeadImpl>(o, DenseActivation::kNone); });
    r->add("depth", [](const HeadOptions& o) { return std::make_shared<DenseHeadImpl>(o, DenseActivation::kSoftplus); });
    r->add("normals", [](const HeadOptions& o) { return std::make_shared<DenseHeadImpl>(o, DenseActivation::kL2Normalize); });
    return r;
  }();
  return *registry;
}

}  // namespace must::models
