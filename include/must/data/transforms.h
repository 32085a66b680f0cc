// Joint transforms: one geometric change applied identically to the image and to every label of the sample
// (torchvision's transforms.v2 / detectron2's augmentations). What a change does to each label comes from the
// task table (core/task.h), not from per-task code:
//   resize  ResizeRule::kNearest maps take the nearest source pixel (no invented classes);
//           kLinearValidOnly maps interpolate, and a pixel is valid only where every source pixel it mixes is
//           valid (normals are renormalised); boxes scale.
//   crop    maps are cut; boxes are shifted and clipped, and dropped when nothing is left.
//   flip    FlipRule: kMirrorBoxes (x1' = W - x2), kMirrorMap, kMirrorMapNegateX (normals' x negated).
// Randomness comes from the generator passed in, which the loader seeds per sample from (seed, epoch, index),
// so a run is reproducible whatever the number of worker threads.
#pragma once

#include <array>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "must/data/dataset.h"

namespace must::data {

class Transform {
 public:
  virtual ~Transform() = default;
  virtual void apply(Sample& sample, std::mt19937_64& rng) const = 0;
};

// One label map of `task` resized to height x width by the task table's rule (a label that is not a map, such
// as a class vector, comes back as it is).
torch::Tensor resize_label(const torch::Tensor& label, Task task, int64_t height, int64_t width);

// How an image (not its labels) is resampled.
enum class ImageFilter {
  kAreaOrLinear,          // OpenCV: area averaging when shrinking, bilinear when growing
  kAntialiasedBilinear,   // torchvision's Resize(antialias=True): torch's antialiased bilinear on the uint8 values,
                          // rounded; PIL's BILINEAR within one grey level
};

// Geometric operations on a whole sample (decode first if needed).
void resize_sample(Sample& sample, int64_t height, int64_t width, ImageFilter filter = ImageFilter::kAreaOrLinear);
void crop_sample(Sample& sample, int64_t top, int64_t left, int64_t height, int64_t width);
void flip_sample(Sample& sample);

// Resize to a fixed {height, width}.
class Resize final : public Transform {
 public:
  Resize(int64_t height, int64_t width) : height_(height), width_(width) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  int64_t height_, width_;
};

// Shorter side to one of `sizes` (drawn uniformly), longer side capped at max_size (detectron2's
// ResizeShortestEdge; one size for evaluation).
class ResizeShortSide final : public Transform {
 public:
  ResizeShortSide(std::vector<int64_t> sizes, int64_t max_size) : sizes_(std::move(sizes)), max_size_(max_size) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  std::vector<int64_t> sizes_;
  int64_t max_size_;
};

// torchvision's Resize(size, antialias=True, max_size): the shorter side to `size`, the longer to
// int(size * long / short), both then scaled so that the longer is at most max_size (0: no cap); antialiased
// bilinear. With CenterCrop, torchvision's evaluation transform of ImageNet classifiers.
class TorchvisionResize final : public Transform {
 public:
  TorchvisionResize(int64_t size, int64_t max_size) : size_(size), max_size_(max_size) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;
  // The output {height, width} of an image of {height, width}, by torchvision's rule.
  std::array<int64_t, 2> output_size(int64_t height, int64_t width) const;

 private:
  int64_t size_, max_size_;
};

// torchvision's CenterCrop: the height x width window at top = round((H - height) / 2), left likewise, rounding
// half to even as Python's round. An image smaller than the window is an error (torchvision pads it).
class CenterCrop final : public Transform {
 public:
  CenterCrop(int64_t height, int64_t width) : height_(height), width_(width) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  int64_t height_, width_;
};

// Scale jitter (large-scale jittering, as in the paper's training recipe): the image is resized so that it
// fits `size` x `size`, times a factor drawn uniformly from [min_scale, max_scale].
class ScaleJitter final : public Transform {
 public:
  ScaleJitter(int64_t size, double min_scale, double max_scale) : size_(size), min_(min_scale), max_(max_scale) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  int64_t size_;
  double min_, max_;
};

// A random height x width window (the whole side when the image is smaller; the loader pads).
class RandomCrop final : public Transform {
 public:
  RandomCrop(int64_t height, int64_t width) : height_(height), width_(width) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  int64_t height_, width_;
};

// torchvision's RandomResizedCrop: a window of scale x the area and aspect ratio in `ratio` (log-uniform),
// 10 tries then the centre crop, resized to size x size. A still-encoded JPEG is decoded at the smallest
// DCT scale that keeps the window at least `size` pixels wide and high.
class RandomResizedCrop final : public Transform {
 public:
  explicit RandomResizedCrop(int64_t size, std::array<double, 2> scale = {0.08, 1.0},
                             std::array<double, 2> ratio = {3.0 / 4, 4.0 / 3})
      : size_(size), scale_(scale), ratio_(ratio) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  int64_t size_;
  std::array<double, 2> scale_, ratio_;
};

class HorizontalFlip final : public Transform {
 public:
  explicit HorizontalFlip(double probability = 0.5) : probability_(probability) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  double probability_;
};

// Image only: brightness, contrast and saturation factors drawn from [1 - x, 1 + x], applied in that order.
class ColorJitter final : public Transform {
 public:
  ColorJitter(double brightness, double contrast, double saturation)
      : brightness_(brightness), contrast_(contrast), saturation_(saturation) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  double brightness_, contrast_, saturation_;
};

// uint8 [H, W, 3] -> float [3, H, W], (x / 255 - mean) / std per channel. Always last.
class Normalize final : public Transform {
 public:
  Normalize(std::array<float, 3> mean = {0.485f, 0.456f, 0.406f}, std::array<float, 3> std = {0.229f, 0.224f, 0.225f});
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  std::array<std::array<float, 256>, 3> table_;
};

// Transforms in order; the image is decoded by the first one that needs pixels (or at the end).
class Compose final : public Transform {
 public:
  explicit Compose(std::vector<std::shared_ptr<Transform>> steps) : steps_(std::move(steps)) {}
  void apply(Sample& sample, std::mt19937_64& rng) const override;

 private:
  std::vector<std::shared_ptr<Transform>> steps_;
};

}  // namespace must::data
