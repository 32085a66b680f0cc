#include <torch/torch.h>

#include <algorithm>
#include <fstream>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/data/decode.h"
#include "readers.h"

namespace must::data {

std::array<int64_t, 2> Sample::image_size() const {
  if (decoded()) {  // uint8 [H, W, 3] as decoded, float [3, H, W] once normalised
    const bool channels_last = image.scalar_type() == torch::kUInt8;
    return {image.size(channels_last ? 0 : 1), image.size(channels_last ? 1 : 2)};
  }
  MUST_CHECK(!encoded.empty(), source, ": sample has no image");
  return encoded_image_size(encoded, source);
}

void Sample::decode() {
  if (decoded()) return;
  MUST_CHECK(!encoded.empty(), source, ": sample has no image");
  image = decode_rgb(encoded, source);
  encoded.clear();
  encoded.shrink_to_fit();
}

torch::Tensor one_hot(int64_t label, int64_t classes) {
  MUST_CHECK(label >= 0 && label < classes, "class ", label, " outside [0, ", classes, ")");
  torch::Tensor out = torch::zeros({classes});
  out[label] = 1.0f;
  return out;
}

DatasetRegistry& dataset_registry() {
  static DatasetRegistry* registry = [] {
    auto* r = new DatasetRegistry("dataset format");
    r->add("image_folder", readers::image_folder);
    r->add("images", readers::images);
    r->add("image_list", readers::image_list);
    r->add("idx", readers::idx);
    r->add("cifar10", readers::cifar10);
    r->add("cifar100", readers::cifar100);
    r->add("coco", readers::coco);
    r->add("voc_detection", readers::voc_detection);
    r->add("voc_segmentation", readers::voc_segmentation);
    r->add("ade20k", readers::ade20k);
    r->add("cityscapes", readers::cityscapes);
    r->add("nyu_labeled", readers::nyu_labeled);
    r->add("nyu_png", readers::nyu_png);
    r->add("diode", readers::diode);
    r->add("world", readers::world);
    return r;
  }();
  return *registry;
}

std::shared_ptr<Dataset> make_dataset(const DatasetOptions& options) {
  return dataset_registry().create(options.format, options);
}

namespace readers {

std::vector<std::filesystem::path> image_files(const std::filesystem::path& dir, bool recursive) {
  require_exists(dir, "image folder");
  static const std::vector<std::string> extensions = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"};
  auto is_image = [](const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
  };
  std::vector<std::filesystem::path> out;
  if (recursive) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file() && is_image(entry.path())) out.push_back(entry.path());
    }
  } else {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file() && is_image(entry.path())) out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) MUST_THROW(Error, path.string(), ": cannot open");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

void require_exists(const std::filesystem::path& path, const std::string& what) {
  if (!std::filesystem::exists(path)) MUST_THROW(Error, what, " ", path.string(), " does not exist");
}

nlohmann::json read_json(const std::filesystem::path& path, const std::string& what) {
  require_exists(path, what);
  try {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, path.string(), ": not valid JSON (", e.what(), ")");
  }
}

Sample encoded_sample(const std::filesystem::path& path) {
  Sample sample;
  sample.source = path.string();
  sample.encoded = read_file(path);
  return sample;
}

torch::Tensor remap_classes(const torch::Tensor& map, const std::vector<int64_t>& lut, const std::string& source) {
  MUST_CHECK(map.dim() == 2 && map.scalar_type() == torch::kUInt8, source, ": expected an 8-bit single-channel class map, got ",
             map.sizes(), " ", map.scalar_type());
  MUST_CHECK(lut.size() == 256, "class lookup table needs 256 entries");
  return torch::tensor(lut, torch::kLong).index_select(0, map.reshape({-1}).to(torch::kLong)).view(map.sizes());
}

}  // namespace readers
}  // namespace must::data
