// Datasets as their files are distributed (docs/formats.md), read into samples that carry an image and
// the labels of their tasks. Per-sample label layouts (the batch layouts of structures::Targets without B):
//   classification  float [C] probabilities (one-hot for a hard label)
//   detection       Instances: boxes [N, 4] (x1, y1, x2, y2) pixel-edge coordinates, 0-based labels, ignore flags
//   segmentation    int64 [H, W] class indices, 255 = ignore
//   depth           float [1, H, W] metres, 0 = invalid
//   normals         float [3, H, W] unit vectors, (0, 0, 0) = invalid
// The image stays encoded until a transform decodes it (a JPEG can then be decoded at reduced scale); once
// decoded it is uint8 [H, W, 3] RGB, and float [3, H, W] after normalisation.
//
// Every reader is thread-safe (get() is const and reads files afresh). A missing file or a malformed
// annotation throws must::Error naming the file and record; an image that does not decode throws DecodeError
// when it is decoded, so loaders can skip it.
#pragma once

#include <torch/types.h>

#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "must/core/registry.h"
#include "must/core/task.h"
#include "must/structures/instances.h"

namespace must::data {

// Where a sample's current pixels come from in the image as read: along each axis, in continuous pixel
// coordinates (a pixel's centre is at index + 0.5), current = scale * original + offset. Resize, crop and flip
// update it (a horizontal flip makes scale[1] negative), so predictions map back to the original labels'
// pixels and box coordinates (eval/). The loader starts it at the image's size; transforms start it themselves
// when it is not started.
struct Geometry {
  std::array<int64_t, 2> original_size{0, 0};  // {H, W} as read; {0, 0} = not started
  std::array<double, 2> scale{1.0, 1.0};       // {y, x}
  std::array<double, 2> offset{0.0, 0.0};      // {y, x}

  static Geometry of_size(std::array<int64_t, 2> size) { return {size, {1.0, 1.0}, {0.0, 0.0}}; }
  bool started() const { return original_size[0] > 0; }
  // Only a resize happened (no crop, no flip): predictions map back by resizing.
  bool is_resize() const { return offset[0] == 0 && offset[1] == 0 && scale[0] > 0 && scale[1] > 0; }
};

struct Sample {
  std::string source;    // the image file (and record), for messages
  std::string encoded;   // the image file's bytes while not decoded
  torch::Tensor image;   // decoded: uint8 [H, W, 3]; after Normalize: float [3, H, W]
  std::map<Task, torch::Tensor> labels;            // tensor labels (layouts above)
  std::optional<structures::Instances> instances;  // detection
  Geometry geometry;     // how the current pixels relate to the image as read

  bool has(Task task) const { return task == Task::kDetection ? instances.has_value() : labels.count(task) != 0; }
  bool decoded() const { return image.defined(); }
  // {H, W} of the image (from the header while still encoded).
  std::array<int64_t, 2> image_size() const;
  // Decodes `encoded` (no-op when decoded). Throws DecodeError naming `source`.
  void decode();
};

struct DatasetInfo {
  std::string name;                                         // format and split, for logs
  std::vector<Task> tasks;                                  // the labels its samples carry
  std::map<Task, std::vector<std::string>> class_names;     // classification, detection, segmentation
  // Detection: the integer ids a COCO results file uses. image_ids: one per sample (COCO's image id); empty =
  // the dataset index. category_ids: one per class, in class order; empty = class index + 1.
  std::vector<int64_t> image_ids, category_ids;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Sample get(int64_t index) const = 0;
  // get(index).source; readers of files override it to answer without reading the file (the pseudo-labeller
  // hashes every input's name on every rank).
  virtual std::string source(int64_t index) const { return get(index).source; }
  const DatasetInfo& info() const { return info_; }

 protected:
  DatasetInfo info_;
};

// What a config's `data` entry names. Which fields a format reads is listed in dataset_registry()'s comment.
struct DatasetOptions {
  std::string format;
  std::filesystem::path root;         // the dataset's top folder, as distributed
  std::string split;                  // train, val, test, ... (format-specific names)
  std::filesystem::path annotations;  // a format's label file when it is not at its standard place
  std::vector<std::string> class_names;  // list files: names of the classes (their count fixes C)
  double depth_scale = 1000.0;        // 16-bit depth PNGs: stored units per metre (millimetres)
  // < 1: a fixed subset of round(fraction x size) samples, the same on every machine (the indices with the
  // smallest mix_seed(subset_seed, index)), kept in index order: "fine-tune on 10% of the training set".
  double fraction = 1.0;
  uint64_t subset_seed = 0;
  std::string config_key;  // where a config named the dataset ("data.eval"), for messages; "" when not from one

  // A field's full config key for messages: "data.eval.annotations", or "the dataset's annotations".
  std::string key(const std::string& field) const {
    return config_key.empty() ? "the dataset's " + field : config_key + "." + field;
  }
};

// Readers by format name:
//   image_folder    root/<class>/<image>; classes are the sorted folder names (torchvision's ImageFolder)
//   images          root/<image> (unlabelled; what pseudo-labelling reads), sorted by name
//   image_list      `annotations`: "<path relative to root> <class index>" per line; class_names
//   idx             MNIST / Fashion-MNIST: root/<split>-images-idx3-ubyte[.gz] + <split>-labels-idx1-ubyte[.gz]
//                   (split: train or t10k)
//   cifar10         root/data_batch_{1..5}.bin (train) or test_batch.bin (test): 1 + 3072-byte records
//   cifar100        root/{train,test}.bin: 2 + 3072-byte records, fine label
//   coco            `annotations` (instances JSON) with images under root; iscrowd boxes are ignore regions
//   voc_detection   root = VOCdevkit/VOC2007 (or 2012): ImageSets/Main/<split>.txt, Annotations/*.xml; difficult
//                   boxes are ignore regions
//   voc_segmentation  ImageSets/Segmentation/<split>.txt, SegmentationClass/*.png palette indices (255 = void);
//                   `annotations`: another label folder (SBD's SegmentationClassAug, as mmsegmentation's aug set)
//   ade20k          root = ADEChallengeData2016: images/<split>/*.jpg, annotations/<split>/*.png (0 -> ignore,
//                   k -> k - 1); split training or validation
//   cityscapes      leftImg8bit/<split>/<city>/*_leftImg8bit.png, gtFine/.../*_gtFine_labelIds.png -> 19 trainIds
//   nyu_labeled     `annotations` = nyu_depth_v2_labeled.mat (HDF5): images, depths (metres); split: all, or a
//                   list file of 1-based indices
//   nyu_png         root/<split>.txt: "<rgb> <16-bit depth png>" per line (BTS-style export), depth / depth_scale
//   diode           root/<split>/{indoors,outdoor}/scene_*/scan_*/<id>.png + _depth.npy, _depth_mask.npy,
//                   _normal.npy
//   world           root = a must_make_world folder; split: one of its splits, with the labels it holds
//   tar_shards      root/*.tar, WebDataset-style <key>.jpg|png (+ <key>.cls with class_names), read in place
//                   (data/tar_shards.h)
using DatasetRegistry = Registry<std::shared_ptr<Dataset>, const DatasetOptions&>;
DatasetRegistry& dataset_registry();
std::shared_ptr<Dataset> make_dataset(const DatasetOptions& options);
// Several datasets read as one, in order (torch's ConcatDataset; detectron2's VOC 2007 + 2012 training set): one
// dataset for a single entry; the parts must carry the same tasks and class names (else must::Error naming
// both parts). COCO image ids are kept only when no two parts share one.
std::shared_ptr<Dataset> make_dataset(const std::vector<DatasetOptions>& parts);

// One-hot probability vector [classes] for a hard label.
torch::Tensor one_hot(int64_t label, int64_t classes);

}  // namespace must::data
