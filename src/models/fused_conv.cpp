#include "must/models/fused_conv.h"

#include <ATen/Context.h>
#include <torch/torch.h>

#include <variant>

#include "must/core/check.h"

namespace must::models {

bool fused_inference_available() { return at::hasMKLDNN(); }

FusedConv2d::FusedConv2d(const torch::nn::Conv2d& conv, const BatchNorm2d& norm) {
  torch::NoGradGuard no_grad;
  const auto& o = conv->options;
  auto as_vector = [](const auto& expanding) { return std::vector<int64_t>(expanding->begin(), expanding->end()); };
  stride_ = as_vector(o.stride());
  dilation_ = as_vector(o.dilation());
  // LibTorch 1.13 holds padding in a c10::variant, 2.x in a std::variant: the using-declaration makes the
  // call parse, argument-dependent lookup then picks the get_if of whichever it is.
  using std::get_if;
  const auto* padding = get_if<torch::ExpandingArray<2>>(&o.padding());
  MUST_CHECK(padding != nullptr, "fused convolutions need explicit padding");
  padding_ = as_vector(*padding);
  groups_ = o.groups();
  sources_ = {conv->weight};
  if (conv->bias.defined()) sources_.push_back(conv->bias);
  if (!norm.is_empty()) sources_.insert(sources_.end(), {norm->weight, norm->bias, norm->running_mean, norm->running_var});
  for (const auto& source : sources_) versions_.emplace_back(source._version(), source.data_ptr());
  torch::Tensor weight = conv->weight.detach().contiguous();
  torch::Tensor bias = conv->bias.defined() ? conv->bias.detach() : torch::zeros({weight.size(0)});
  if (!norm.is_empty()) {
    const torch::Tensor scale = norm->weight.detach() * (norm->running_var + norm->options().eps()).rsqrt();
    weight = weight * scale.view({-1, 1, 1, 1});
    bias = (bias - norm->running_mean) * scale + norm->bias.detach();
  }
  weight_ = at::mkldnn_reorder_conv2d_weight(weight.to_mkldnn(), padding_, stride_, dilation_, groups_);
  bias_ = bias.contiguous();
}

torch::Tensor FusedConv2d::operator()(const torch::Tensor& x) const {
  // The fused copy must not outlive the weights it was made from: weights loaded, swapped (EMA) or stepped since
  // would silently not be used.
  for (size_t i = 0; i < sources_.size(); ++i) {
    MUST_CHECK(sources_[i]._version() == versions_[i].first && sources_[i].data_ptr() == versions_[i].second,
               "the model's weights changed after fuse_for_inference(): call train() (or eval() and "
               "fuse_for_inference() again) so the fused copies are remade");
  }
  return at::mkldnn_convolution(x, weight_, bias_, padding_, stride_, dilation_, groups_);
}

torch::Tensor FusedConv2d::on_dense(const torch::Tensor& x) const { return (*this)(x.contiguous().to_mkldnn()).to_dense(); }

}  // namespace must::models
