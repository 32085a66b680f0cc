#include "must/data/transforms.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"
#include "must/core/random.h"
#include "must/data/decode.h"

namespace must::data {
namespace {

namespace F = torch::nn::functional;

// The decoded uint8 [H, W, 3] image (decoding it first if needed).
torch::Tensor& pixels(Sample& sample) {
  sample.decode();
  MUST_CHECK(sample.image.dim() == 3 && sample.image.size(2) == 3 && sample.image.scalar_type() == torch::kUInt8,
             sample.source, ": geometric transforms need the uint8 [H, W, 3] image; put Normalize last");
  if (!sample.geometry.started()) sample.geometry = Geometry::of_size({sample.image.size(0), sample.image.size(1)});
  return sample.image;
}

cv::Mat as_mat(const torch::Tensor& image) {
  return cv::Mat(int(image.size(0)), int(image.size(1)), CV_8UC3, image.data_ptr<uint8_t>());
}

torch::Tensor resize_image(const torch::Tensor& image, int64_t height, int64_t width, ImageFilter filter) {
  if (image.size(0) == height && image.size(1) == width) return image;
  if (filter == ImageFilter::kAntialiasedBilinear) {  // as torchvision's resize of a uint8 tensor
    const torch::Tensor values = image.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat);
    const torch::Tensor resized = at::_upsample_bilinear2d_aa(values, {height, width}, /*align_corners=*/false);
    return resized.round().clamp(0, 255).to(torch::kUInt8)[0].permute({1, 2, 0}).contiguous();
  }
  const torch::Tensor source = image.contiguous();
  torch::Tensor out = torch::empty({height, width, 3}, torch::kUInt8);
  cv::Mat target = as_mat(out);
  // Area averaging when shrinking (what PIL's antialiased resize approximates), bilinear when growing.
  const bool shrinking = height < image.size(0) && width < image.size(1);
  cv::resize(as_mat(source), target, target.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

// Nearest source pixel by centre: src = floor((dst + 0.5) * in / out) (PIL's NEAREST).
torch::Tensor nearest_indices(int64_t in, int64_t out) {
  return ((torch::arange(out, torch::kDouble) + 0.5) * double(in) / double(out)).floor().clamp_max(double(in - 1)).to(torch::kLong);
}

torch::Tensor resize_map(const torch::Tensor& map, const TaskSpec& spec, int64_t height, int64_t width) {
  if (spec.resize == ResizeRule::kNone) return map;  // image-level
  const int64_t h = map.size(-2), w = map.size(-1);
  if (h == height && w == width) return map;
  switch (spec.resize) {
    case ResizeRule::kNone: return map;
    case ResizeRule::kNearest:
      return map.index_select(-2, nearest_indices(h, height)).index_select(-1, nearest_indices(w, width));
    case ResizeRule::kLinearValidOnly: {
      const torch::Tensor valid = map.ne(0).any(0, /*keepdim=*/true).to(torch::kFloat);  // [1, H, W]
      const torch::Tensor stacked = torch::cat({map * valid, valid}).unsqueeze(0);
      const torch::Tensor resized = F::interpolate(
          stacked, F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width}).mode(torch::kBilinear).align_corners(false))[0];
      const int64_t channels = map.size(0);
      const torch::Tensor weight = resized.narrow(0, channels, 1);
      const torch::Tensor ok = weight > 0.999f;  // every source pixel mixed in was valid
      torch::Tensor values = resized.narrow(0, 0, channels) / weight.clamp_min(1e-6f) * ok;
      if (spec.target == TargetKind::kUnitVectorMap) {
        values = F::normalize(values, F::NormalizeFuncOptions().dim(0).eps(1e-12)) * ok;
      }
      return values;
    }
  }
  return map;
}

// A resize by (sy, sx) of the current pixels.
void scale_geometry(Geometry& geometry, double sy, double sx) {
  geometry.scale = {geometry.scale[0] * sy, geometry.scale[1] * sx};
  geometry.offset = {geometry.offset[0] * sy, geometry.offset[1] * sx};
}

}  // namespace

torch::Tensor resize_label(const torch::Tensor& label, Task task, int64_t height, int64_t width) {
  return resize_map(label, task_spec(task), height, width);
}

void resize_sample(Sample& sample, int64_t height, int64_t width, ImageFilter filter) {
  MUST_CHECK(height > 0 && width > 0, "resize to ", height, "x", width);
  torch::Tensor& image = pixels(sample);
  const double sy = double(height) / double(image.size(0)), sx = double(width) / double(image.size(1));
  image = resize_image(image, height, width, filter);
  scale_geometry(sample.geometry, sy, sx);
  for (auto& [task, label] : sample.labels) label = resize_map(label, task_spec(task), height, width);
  if (sample.instances && sample.instances->size() > 0) {
    auto& instances = *sample.instances;
    instances.boxes = instances.boxes * torch::tensor({float(sx), float(sy), float(sx), float(sy)});
    if (instances.areas.defined()) instances.areas = instances.areas * (sx * sy);
  }
}

void crop_sample(Sample& sample, int64_t top, int64_t left, int64_t height, int64_t width) {
  torch::Tensor& image = pixels(sample);
  MUST_CHECK(top >= 0 && left >= 0 && top + height <= image.size(0) && left + width <= image.size(1), sample.source,
             ": crop ", height, "x", width, " at (", top, ", ", left, ") outside the ", image.size(0), "x", image.size(1), " image");
  image = image.slice(0, top, top + height).slice(1, left, left + width).contiguous();
  sample.geometry.offset[0] -= double(top);
  sample.geometry.offset[1] -= double(left);
  for (auto& [task, label] : sample.labels) {
    if (task_spec(task).resize == ResizeRule::kNone) continue;  // image-level
    label = label.slice(-2, top, top + height).slice(-1, left, left + width).contiguous();
  }
  if (sample.instances && sample.instances->size() > 0) {
    auto& instances = *sample.instances;
    torch::Tensor boxes = instances.boxes - torch::tensor({float(left), float(top), float(left), float(top)});
    boxes = torch::stack({boxes.select(1, 0).clamp(0, double(width)), boxes.select(1, 1).clamp(0, double(height)),
                          boxes.select(1, 2).clamp(0, double(width)), boxes.select(1, 3).clamp(0, double(height))}, 1);
    const torch::Tensor keep =
        ((boxes.select(1, 2) > boxes.select(1, 0)) & (boxes.select(1, 3) > boxes.select(1, 1))).nonzero().view({-1});
    instances.boxes = boxes.index_select(0, keep);
    for (torch::Tensor* field : {&instances.labels, &instances.ignore, &instances.scores, &instances.areas}) {
      if (field->defined()) *field = field->index_select(0, keep);
    }
  }
}

void flip_sample(Sample& sample) {
  torch::Tensor& image = pixels(sample);
  const int64_t width = image.size(1);
  image = image.flip({1}).contiguous();
  sample.geometry.scale[1] = -sample.geometry.scale[1];  // x' = W - x
  sample.geometry.offset[1] = double(width) - sample.geometry.offset[1];
  for (auto& [task, label] : sample.labels) {
    switch (task_spec(task).flip) {
      case FlipRule::kNone:
      case FlipRule::kMirrorBoxes: break;
      case FlipRule::kMirrorMap: label = label.flip({-1}).contiguous(); break;
      case FlipRule::kMirrorMapNegateX:
        label = label.flip({-1}).contiguous();
        label[0].neg_();
        break;
    }
  }
  if (sample.instances && sample.instances->size() > 0) {
    const torch::Tensor& b = sample.instances->boxes;
    sample.instances->boxes = torch::stack({width - b.select(1, 2), b.select(1, 1), width - b.select(1, 0), b.select(1, 3)}, 1);
  }
}

void Resize::apply(Sample& sample, std::mt19937_64&) const { resize_sample(sample, height_, width_); }

void ResizeShortSide::apply(Sample& sample, std::mt19937_64& rng) const {
  MUST_CHECK(!sizes_.empty(), "ResizeShortSide needs at least one size");
  const auto [h, w] = sample.image_size();
  const double target = double(sizes_[size_t(uniform_int(rng, 0, int64_t(sizes_.size()) - 1))]);
  double scale = target / double(std::min(h, w));
  if (max_size_ > 0 && scale * double(std::max(h, w)) > double(max_size_)) scale = double(max_size_) / double(std::max(h, w));
  resize_sample(sample, std::max<int64_t>(1, std::lround(double(h) * scale)), std::max<int64_t>(1, std::lround(double(w) * scale)));
}

std::array<int64_t, 2> TorchvisionResize::output_size(int64_t height, int64_t width) const {
  const int64_t short_side = std::min(height, width), long_side = std::max(height, width);
  // Python's int(size * long / short): the integer product, one true division, truncated.
  int64_t new_short = size_, new_long = int64_t(double(size_ * long_side) / double(short_side));
  if (max_size_ > 0 && new_long > max_size_) {
    new_short = int64_t(double(max_size_ * new_short) / double(new_long)), new_long = max_size_;
  }
  return width <= height ? std::array<int64_t, 2>{new_long, new_short} : std::array<int64_t, 2>{new_short, new_long};
}

void TorchvisionResize::apply(Sample& sample, std::mt19937_64&) const {
  const auto [h, w] = sample.image_size();
  const auto [height, width] = output_size(h, w);
  resize_sample(sample, height, width, ImageFilter::kAntialiasedBilinear);
}

void CenterCrop::apply(Sample& sample, std::mt19937_64&) const {
  const auto [h, w] = sample.image_size();
  if (h < height_ || w < width_) {
    MUST_THROW(Error, sample.source, ": center_crop ", height_, "x", width_, " is larger than the ", h, "x", w,
               " image it is given (resize it first)");
  }
  // std::nearbyint rounds half to even in the default rounding mode, as Python's round().
  crop_sample(sample, int64_t(std::nearbyint(double(h - height_) / 2.0)), int64_t(std::nearbyint(double(w - width_) / 2.0)),
              height_, width_);
}

void ScaleJitter::apply(Sample& sample, std::mt19937_64& rng) const {
  const auto [h, w] = sample.image_size();
  const double scale = double(size_) / double(std::max(h, w)) * uniform_real(rng, min_, max_);
  resize_sample(sample, std::max<int64_t>(1, std::lround(double(h) * scale)), std::max<int64_t>(1, std::lround(double(w) * scale)));
}

void RandomCrop::apply(Sample& sample, std::mt19937_64& rng) const {
  const auto [h, w] = sample.image_size();
  const int64_t ch = std::min(height_, h), cw = std::min(width_, w);
  crop_sample(sample, uniform_int(rng, 0, h - ch), uniform_int(rng, 0, w - cw), ch, cw);
}

void RandomResizedCrop::apply(Sample& sample, std::mt19937_64& rng) const {
  const auto [height, width] = sample.image_size();
  const double area = double(height * width);
  int64_t top = 0, left = 0, h = height, w = width;
  bool found = false;
  for (int attempt = 0; attempt < 10 && !found; ++attempt) {
    const double target = area * uniform_real(rng, scale_[0], scale_[1]);
    const double aspect = std::exp(uniform_real(rng, std::log(ratio_[0]), std::log(ratio_[1])));
    w = std::lround(std::sqrt(target * aspect));
    h = std::lround(std::sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      top = uniform_int(rng, 0, height - h);
      left = uniform_int(rng, 0, width - w);
      found = true;
    }
  }
  if (!found) {  // centre crop at the nearest allowed ratio
    const double ratio = double(width) / double(height);
    if (ratio < ratio_[0]) {
      w = width, h = std::lround(double(w) / ratio_[0]);
    } else if (ratio > ratio_[1]) {
      h = height, w = std::lround(double(h) * ratio_[1]);
    } else {
      w = width, h = height;
    }
    top = (height - h) / 2, left = (width - w) / 2;
  }
  // Image-level labels only: the image may be decoded smaller, as nothing else shares its geometry.
  bool image_level = !sample.instances;
  for (const auto& [task, label] : sample.labels) image_level = image_level && task_spec(task).resize == ResizeRule::kNone;
  if (!sample.decoded() && image_level) {
    int denominator = 8;
    while (denominator > 1 && (w / denominator < size_ || h / denominator < size_)) denominator /= 2;
    if (denominator > 1) {
      if (!sample.geometry.started()) sample.geometry = Geometry::of_size({height, width});
      sample.image = decode_rgb(sample.encoded, sample.source, denominator);
      sample.encoded.clear();
      const double sy = double(sample.image.size(0)) / double(height), sx = double(sample.image.size(1)) / double(width);
      scale_geometry(sample.geometry, sy, sx);
      const int64_t t = std::min<int64_t>(std::lround(double(top) * sy), sample.image.size(0) - 1);
      const int64_t l = std::min<int64_t>(std::lround(double(left) * sx), sample.image.size(1) - 1);
      const int64_t ch = std::clamp<int64_t>(std::lround(double(h) * sy), 1, sample.image.size(0) - t);
      const int64_t cw = std::clamp<int64_t>(std::lround(double(w) * sx), 1, sample.image.size(1) - l);
      crop_sample(sample, t, l, ch, cw);
      resize_sample(sample, size_, size_);
      return;
    }
  }
  crop_sample(sample, top, left, h, w);
  resize_sample(sample, size_, size_);
}

void HorizontalFlip::apply(Sample& sample, std::mt19937_64& rng) const {
  if (uniform_real(rng, 0, 1) < probability_) flip_sample(sample);
}

void ColorJitter::apply(Sample& sample, std::mt19937_64& rng) const {
  torch::Tensor& image = pixels(sample);
  torch::Tensor x = image.to(torch::kFloat);
  const double brightness = uniform_real(rng, std::max(0.0, 1 - brightness_), 1 + brightness_);
  const double contrast = uniform_real(rng, std::max(0.0, 1 - contrast_), 1 + contrast_);
  const double saturation = uniform_real(rng, std::max(0.0, 1 - saturation_), 1 + saturation_);
  x = (x * brightness).clamp(0, 255);
  auto gray = [](const torch::Tensor& rgb) {  // ITU-R 601 luma, as torchvision's rgb_to_grayscale
    return (rgb.select(2, 0) * 0.299 + rgb.select(2, 1) * 0.587 + rgb.select(2, 2) * 0.114).unsqueeze(2);
  };
  x = (x * contrast + gray(x).mean() * (1 - contrast)).clamp(0, 255);
  x = (x * saturation + gray(x) * (1 - saturation)).clamp(0, 255);
  image = x.round().to(torch::kUInt8);
}

Normalize::Normalize(std::array<float, 3> mean, std::array<float, 3> std) {
  for (int c = 0; c < 3; ++c) {
    MUST_CHECK(std[size_t(c)] > 0, "Normalize: std must be positive");
    for (int v = 0; v < 256; ++v) table_[size_t(c)][size_t(v)] = (float(v) / 255.0f - mean[size_t(c)]) / std[size_t(c)];
  }
}

void Normalize::apply(Sample& sample, std::mt19937_64&) const {
  const torch::Tensor image = pixels(sample).contiguous();
  const int64_t plane = image.size(0) * image.size(1);
  torch::Tensor out = torch::empty({3, image.size(0), image.size(1)}, torch::kFloat);
  const uint8_t* in = image.data_ptr<uint8_t>();
  float* o = out.data_ptr<float>();
  for (int64_t i = 0; i < plane; ++i) {
    o[i] = table_[0][in[3 * i]];
    o[plane + i] = table_[1][in[3 * i + 1]];
    o[2 * plane + i] = table_[2][in[3 * i + 2]];
  }
  sample.image = out;
}

void Compose::apply(Sample& sample, std::mt19937_64& rng) const {
  for (const auto& step : steps_) step->apply(sample, rng);
  sample.decode();
}

}  // namespace must::data
