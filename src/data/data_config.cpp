#include "must/data/data_config.h"

#include <sstream>

#include <string>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must::data {

std::string_view dataset_defaults() {
  // Indented for a key two levels down (data.train, data.eval); YAML takes any deeper indent elsewhere too.
  return R"yaml(
    format: world             # image_folder, images, image_list, idx, cifar10, cifar100, coco, voc_detection,
                              # voc_segmentation, ade20k, cityscapes, nyu_labeled, nyu_png, diode, world
    root: ""                  # the dataset's top folder, as distributed
    split: ""                 # format-specific (train, val, trainval, training, ...); "" = the format's default
    annotations: ""           # a label file not at its standard place (COCO JSON, image list, NYU .mat)
    class_names: []           # image lists: the class names
    depth_scale: 1000.0       # 16-bit depth PNGs: stored units per metre
    fraction: 1.0             # < 1: a fixed subset of this share of the samples (the same everywhere)
    subset_seed: 0            # which subset
)yaml";
}

std::string_view augment_and_loader_defaults() {
  return R"yaml(
  augment:
    resize:
      mode: none              # none, fixed (size), short_side (sizes, max_size), scale_jitter (size, scales),
                              # torchvision (sizes: the first, max_size: torchvision's Resize(size, antialias=True))
      size: [0, 0]            # fixed: [height, width]; scale_jitter: [side, side]
      sizes: [800]            # short_side: one drawn per image in training, the first at evaluation
      max_size: 1333          # short_side: cap on the longer side (0 = none)
      scales: [0.1, 2.0]      # scale_jitter: factor range
    center_crop: [0, 0]       # evaluation and pseudo-labelling: [height, width] from the centre after the resize
                              # (torchvision's CenterCrop); 0 = off
    random_resized_crop: 0    # output side (0 = off); classification training
    crop: [0, 0]              # random [height, width] window (0 = off)
    flip: 0.5                 # horizontal flip probability
    color_jitter: [0.0, 0.0, 0.0]  # brightness, contrast, saturation
    mean: [0.485, 0.456, 0.406]     # normalisation (ImageNet statistics, on 0..1 pixels)
    std: [0.229, 0.224, 0.225]
  loader:
    batch_size: 8
    workers: 2                # decode/augment threads; 0: on the training thread between steps
    prefetch_batches: 4       # batches prepared ahead of the training step
    idle_priority: true       # workers use only CPU time the step leaves idle (Linux SCHED_IDLE)
    seed: 0                   # order and augmentation are a function of (seed, epoch, rank, world size)
    size_divisible: 32        # images padded to this multiple (the backbone's largest stride)
    drop_last: false
    stop_on_bad_image: false  # false: skip images that do not decode (logged, counted); true: stop the run
)yaml";
}

namespace {

// A dataset block one level deeper than data.<name>: every line indented two more.
std::string indented(std::string_view block) {
  std::string out;
  std::istringstream lines{std::string(block)};
  for (std::string line; std::getline(lines, line);) out += (line.empty() ? "" : "  ") + line + "\n";
  return out;
}

}  // namespace

std::string_view sources_defaults() {
  static const std::string defaults = [] {
    const std::string dataset = indented(dataset_defaults());
    return R"yaml(
sources:                      # must_train_student: where training samples come from, one entry per source (any name)
  _any_:
    store: ""                 # a pseudo-label store (must_pseudolabel --output-dir); "" = none
    dataset:                  # a labelled dataset; beside a store, the images it was made from (root "" = the
                              # store's packed images, else the input its manifest names))yaml" +
           dataset + R"yaml(    pseudo_tasks: []          # the store's tasks to learn ([] = all of them)
    real_tasks: []            # the dataset's own labels to learn ([] = all for a dataset alone, none beside a store);
                              # a real label wins over the pseudo label of the same image and task
    weight: 1.0               # the source's share of each epoch's samples
)yaml";
  }();
  return defaults;
}

std::string_view data_defaults() {
  // One dataset block, written out for `train` and `eval` (not a YAML alias: yaml-cpp would share the node,
  // and an override of one would change both).
  static const std::string defaults = "\ndata:\n  train:                      # what training reads" +
                                      std::string(dataset_defaults()) +
                                      "  train_extra:                # more training datasets by any name, read after "
                                      "train as one\n                              # (VOC 2007 + 2012): same tasks "
                                      "and classes\n    _any_:" + indented(dataset_defaults()) +
                                      "  eval:                       # what evaluation reads" +
                                      std::string(dataset_defaults()) + std::string(augment_and_loader_defaults());
  return defaults;
}

DatasetOptions dataset_options_from_config(const config::Config& node) {
  DatasetOptions options;
  options.format = node.get_string("format");
  if (!dataset_registry().contains(options.format)) {
    node.fail("format", "unknown dataset format '" + options.format + "'; known: " + join(dataset_registry().names()));
  }
  options.root = node.get_string("root");
  options.split = node.get_string("split");
  options.annotations = node.get_string("annotations");
  options.class_names = node.get_string_list("class_names");
  options.depth_scale = node.get_positive_float("depth_scale");
  options.fraction = node.get_float("fraction");
  if (options.fraction <= 0 || options.fraction > 1) node.fail("fraction", "must lie in (0, 1]");
  options.subset_seed = uint64_t(node.get_int("subset_seed"));
  options.config_key = node.full_key("");
  return options;
}

std::vector<DatasetOptions> training_datasets_from_config(const config::Config& data) {
  std::vector<DatasetOptions> parts{dataset_options_from_config(data.at("train"))};
  for (const auto& name : data.keys("train_extra")) {
    parts.push_back(dataset_options_from_config(data.at("train_extra." + name)));
    if (parts.back().format != parts.front().format) {
      data.fail("train_extra." + name + ".format", "must be data.train's format ('" + parts.front().format + "')");
    }
  }
  return parts;
}

std::shared_ptr<Transform> transform_from_config(const config::Config& node, bool training) {
  std::vector<std::shared_ptr<Transform>> steps;
  const config::Config resize = node.at("resize");
  const std::string mode = resize.get_string("mode");
  const std::vector<int64_t> size = resize.get_int_list("size");
  if (size.size() != 2) resize.fail("size", "must be [height, width]");
  if (mode == "fixed") {
    if (size[0] <= 0 || size[1] <= 0) resize.fail("size", "must be positive for mode fixed");
    steps.push_back(std::make_shared<Resize>(size[0], size[1]));
  } else if (mode == "short_side") {
    std::vector<int64_t> sizes = resize.get_int_list("sizes");
    if (sizes.empty()) resize.fail("sizes", "needs at least one size");
    for (int64_t s : sizes) {
      if (s <= 0) resize.fail("sizes", "sizes must be positive");
    }
    if (!training) sizes = {sizes.front()};
    steps.push_back(std::make_shared<ResizeShortSide>(sizes, resize.get_int("max_size")));
  } else if (mode == "scale_jitter") {
    const std::vector<double> scales = resize.get_float_list("scales");
    if (scales.size() != 2 || scales[0] <= 0 || scales[1] < scales[0]) resize.fail("scales", "must be [low, high], 0 < low <= high");
    if (size[0] <= 0) resize.fail("size", "must be positive for mode scale_jitter");
    steps.push_back(training ? std::make_shared<ScaleJitter>(size[0], scales[0], scales[1])
                             : std::make_shared<ScaleJitter>(size[0], 1.0, 1.0));
  } else if (mode == "torchvision") {
    const std::vector<int64_t> sizes = resize.get_int_list("sizes");
    if (sizes.empty() || sizes.front() <= 0) resize.fail("sizes", "needs a positive size (the first is used)");
    const int64_t max_size = resize.get_non_negative_int("max_size");
    if (max_size > 0 && max_size <= sizes.front()) resize.fail("max_size", "must be above sizes[0] (or 0: no cap)");
    steps.push_back(std::make_shared<TorchvisionResize>(sizes.front(), max_size));
  } else if (mode != "none") {
    resize.fail("mode", "must be none, fixed, short_side, scale_jitter or torchvision");
  }
  const std::vector<int64_t> center = node.get_int_list("center_crop");
  if (center.size() != 2 || center[0] < 0 || center[1] < 0) node.fail("center_crop", "must be [height, width], 0 = off");
  if (!training && center[0] > 0 && center[1] > 0) steps.push_back(std::make_shared<CenterCrop>(center[0], center[1]));
  if (training) {
    const int64_t rrc = node.get_non_negative_int("random_resized_crop");
    if (rrc > 0) steps.push_back(std::make_shared<RandomResizedCrop>(rrc));
    const std::vector<int64_t> crop = node.get_int_list("crop");
    if (crop.size() != 2 || crop[0] < 0 || crop[1] < 0) node.fail("crop", "must be [height, width], 0 = off");
    if (crop[0] > 0 && crop[1] > 0) steps.push_back(std::make_shared<RandomCrop>(crop[0], crop[1]));
    const double flip = node.get_float_in("flip", 0, 1);
    if (flip > 0) steps.push_back(std::make_shared<HorizontalFlip>(flip));
    const std::vector<double> jitter = node.get_float_list("color_jitter");
    if (jitter.size() != 3 || jitter[0] < 0 || jitter[1] < 0 || jitter[2] < 0) {
      node.fail("color_jitter", "must be [brightness, contrast, saturation], each >= 0");
    }
    if (jitter[0] > 0 || jitter[1] > 0 || jitter[2] > 0) {
      steps.push_back(std::make_shared<ColorJitter>(jitter[0], jitter[1], jitter[2]));
    }
  }
  const Normalization normalization = normalization_from_config(node);
  steps.push_back(std::make_shared<Normalize>(normalization.mean, normalization.std));
  return std::make_shared<Compose>(std::move(steps));
}

Normalization normalization_from_config(const config::Config& node) {
  const std::vector<double> mean = node.get_float_list("mean"), std = node.get_float_list("std");
  if (mean.size() != 3) node.fail("mean", "needs 3 values (R, G, B)");
  if (std.size() != 3 || std[0] <= 0 || std[1] <= 0 || std[2] <= 0) node.fail("std", "needs 3 positive values");
  return {{float(mean[0]), float(mean[1]), float(mean[2])}, {float(std[0]), float(std[1]), float(std[2])}};
}

LoaderOptions loader_options_from_config(const config::Config& node, bool training) {
  LoaderOptions options;
  options.batch_size = node.get_positive_int("batch_size");
  options.workers = int(node.get_int("workers"));
  if (options.workers < 0) node.fail("workers", "must be 0 (batches made on the training thread) or more");
  options.prefetch_batches = int(node.get_positive_int("prefetch_batches"));
  options.idle_priority = node.get_bool("idle_priority");
  options.size_divisible = node.get_positive_int("size_divisible");
  options.seed = uint64_t(node.get_int("seed"));
  options.drop_last = training && node.get_bool("drop_last");
  options.stop_on_bad_image = node.get_bool("stop_on_bad_image");
  options.shuffle = training;
  return options;
}

}  // namespace must::data
