// Internal: the readers behind dataset_registry(), and what they share.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "must/data/dataset.h"

namespace must::data::readers {

std::shared_ptr<Dataset> image_folder(const DatasetOptions& options);
std::shared_ptr<Dataset> images(const DatasetOptions& options);
std::shared_ptr<Dataset> image_list(const DatasetOptions& options);
std::shared_ptr<Dataset> idx(const DatasetOptions& options);
std::shared_ptr<Dataset> cifar10(const DatasetOptions& options);
std::shared_ptr<Dataset> cifar100(const DatasetOptions& options);
std::shared_ptr<Dataset> coco(const DatasetOptions& options);
std::shared_ptr<Dataset> voc_detection(const DatasetOptions& options);
std::shared_ptr<Dataset> voc_segmentation(const DatasetOptions& options);
std::shared_ptr<Dataset> ade20k(const DatasetOptions& options);
std::shared_ptr<Dataset> cityscapes(const DatasetOptions& options);
std::shared_ptr<Dataset> nyu_labeled(const DatasetOptions& options);
std::shared_ptr<Dataset> nyu_png(const DatasetOptions& options);
std::shared_ptr<Dataset> diode(const DatasetOptions& options);
std::shared_ptr<Dataset> world(const DatasetOptions& options);
std::shared_ptr<Dataset> tar_shards(const DatasetOptions& options);

// Files directly in `dir` (or below it, when recursive) whose lower-case extension is an image's, sorted.
std::vector<std::filesystem::path> image_files(const std::filesystem::path& dir, bool recursive = false);
// Non-empty lines, trailing whitespace removed. Throws must::Error naming the file when it cannot be read.
std::vector<std::string> read_lines(const std::filesystem::path& path);
// Throws must::Error "<what> <path> does not exist" unless it does; for an empty path "<what>: none given (set
// <key>)", `key` being the config key that names it (DatasetOptions::key).
void require_exists(const std::filesystem::path& path, const std::string& what, const std::string& key = "");
// A JSON document; `what` names it in errors ("COCO annotation file"). Throws must::Error naming the file.
nlohmann::json read_json(const std::filesystem::path& path, const std::string& what, const std::string& key = "");
// A sample whose image is the file at `path`, read now and decoded later.
Sample encoded_sample(const std::filesystem::path& path);
// uint8 [H, W] class map -> int64, through a 256-entry lookup table (unlisted values -> 255).
torch::Tensor remap_classes(const torch::Tensor& map, const std::vector<int64_t>& lut, const std::string& source);

}  // namespace must::data::readers
