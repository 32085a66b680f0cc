// The `data:` config section of the training and evaluation tools, mapped to the data module's options.
// A library of its own (must_data_config), as model_config: the data module itself does not need the YAML stack.
//
//   data:
//     train / eval:  a dataset (format, root, split, annotations, class_names, depth_scale; see dataset.h)
//     train_extra:   more training datasets by any name, read after train as one (VOC 2007 + 2012 trainval)
//     augment:       training transforms, applied in this order: resize, random_resized_crop, crop, flip,
//                    color_jitter, then normalize (evaluation uses resize, center_crop and normalize only)
//     loader:        batch size, workers, prefetch, seed, stride padding, what to do with undecodable images
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "must/config/config.h"
#include "must/data/dataset.h"
#include "must/data/loader.h"
#include "must/data/transforms.h"

namespace must::data {

// The commented `data:` section every training and evaluation tool's defaults include.
std::string_view data_defaults();
// Its pieces, for tools that read a dataset under another key: one dataset's keys (indented for data.<name>),
// and the `augment:` and `loader:` entries of the section.
std::string_view dataset_defaults();
std::string_view augment_and_loader_defaults();
// must_train_student's `sources:` section (engine/student.h reads it): each entry a pseudo-label store and/or a
// labelled dataset, with the tasks taken from each and its sampling weight.
std::string_view sources_defaults();
// Each throws must::ConfigError naming the key on a bad value.
DatasetOptions dataset_options_from_config(const config::Config& dataset);
// The `data:` section's training datasets: train, then each train_extra entry (of train's format); hand them to
// make_dataset, which reads several as one.
std::vector<DatasetOptions> training_datasets_from_config(const config::Config& data);
std::shared_ptr<Transform> transform_from_config(const config::Config& augment, bool training);
// A node's `mean` and `std` (R, G, B on 0..1 pixels; std positive): data.augment's, or a TorchScript teacher's own.
struct Normalization {
  std::array<float, 3> mean, std;
};
Normalization normalization_from_config(const config::Config& node);
LoaderOptions loader_options_from_config(const config::Config& loader, bool training);

}  // namespace must::data
