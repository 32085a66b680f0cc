#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/random.h"
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
    r->add("tar_shards", readers::tar_shards);
    return r;
  }();
  return *registry;
}

namespace {

// A dataset's samples at the given indices, in that order.
class SubsetDataset final : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<Dataset> whole, std::vector<int64_t> indices)
      : whole_(std::move(whole)), indices_(std::move(indices)) {
    info_ = whole_->info();
    info_.name += " (" + std::to_string(indices_.size()) + " of " + std::to_string(whole_->size()) + ")";
    if (!info_.image_ids.empty()) {
      info_.image_ids.clear();
      for (int64_t i : indices_) info_.image_ids.push_back(whole_->info().image_ids[size_t(i)]);
    }
  }
  int64_t size() const override { return int64_t(indices_.size()); }
  Sample get(int64_t index) const override { return whole_->get(indices_[size_t(index)]); }
  std::string source(int64_t index) const override { return whole_->source(indices_[size_t(index)]); }

 private:
  std::shared_ptr<Dataset> whole_;
  std::vector<int64_t> indices_;
};

class ConcatDataset final : public Dataset {
 public:
  explicit ConcatDataset(std::vector<std::shared_ptr<Dataset>> parts) : parts_(std::move(parts)) {
    info_ = parts_.front()->info();
    std::set<int64_t> image_ids(info_.image_ids.begin(), info_.image_ids.end());
    bool ids_unique = !info_.image_ids.empty();
    int64_t total = 0;
    for (size_t p = 0; p < parts_.size(); ++p) {
      const DatasetInfo& info = parts_[p]->info();
      MUST_CHECK(info.tasks == info_.tasks && info.class_names == info_.class_names, "datasets read as one must carry "
                 "the same tasks and classes: ", info.name, " differs from ", info_.name);
      total += parts_[p]->size();
      ends_.push_back(total);
      if (p > 0) {
        info_.name += " + " + info.name;
        for (int64_t id : info.image_ids) ids_unique = ids_unique && image_ids.insert(id).second;
        info_.image_ids.insert(info_.image_ids.end(), info.image_ids.begin(), info.image_ids.end());
      }
    }
    if (!ids_unique) info_.image_ids.clear();  // the dataset index then names each image
  }
  int64_t size() const override { return ends_.back(); }
  Sample get(int64_t index) const override {
    const auto [part, local] = locate(index);
    return part.get(local);
  }
  std::string source(int64_t index) const override {
    const auto [part, local] = locate(index);
    return part.source(local);
  }

 private:
  std::pair<const Dataset&, int64_t> locate(int64_t index) const {
    MUST_CHECK(index >= 0 && index < size(), info_.name, ": index ", index, " outside [0, ", size(), ")");
    const size_t part = size_t(std::upper_bound(ends_.begin(), ends_.end(), index) - ends_.begin());
    return {*parts_[part], index - (part == 0 ? 0 : ends_[part - 1])};
  }

  std::vector<std::shared_ptr<Dataset>> parts_;
  std::vector<int64_t> ends_;  // cumulative sizes
};

}  // namespace

std::shared_ptr<Dataset> make_dataset(const std::vector<DatasetOptions>& parts) {
  MUST_CHECK(!parts.empty(), "no dataset to read");
  std::vector<std::shared_ptr<Dataset>> datasets;
  for (const auto& options : parts) datasets.push_back(make_dataset(options));
  if (datasets.size() == 1) return datasets.front();
  return std::make_shared<ConcatDataset>(std::move(datasets));
}

std::shared_ptr<Dataset> make_dataset(const DatasetOptions& options) {
  std::shared_ptr<Dataset> dataset = dataset_registry().create(options.format, options);
  if (options.fraction >= 1.0) return dataset;
  MUST_CHECK(options.fraction > 0, "a dataset's fraction must lie in (0, 1], got ", options.fraction);
  std::vector<std::pair<uint64_t, int64_t>> keyed;
  for (int64_t i = 0; i < dataset->size(); ++i) {
    keyed.emplace_back(mix_seed(options.subset_seed ^ mix_seed(uint64_t(i))), i);
  }
  const auto count = size_t(std::llround(options.fraction * double(keyed.size())));
  std::partial_sort(keyed.begin(), keyed.begin() + long(count), keyed.end());
  std::vector<int64_t> indices;
  for (size_t k = 0; k < count; ++k) indices.push_back(keyed[k].second);
  std::sort(indices.begin(), indices.end());
  return std::make_shared<SubsetDataset>(std::move(dataset), std::move(indices));
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

void require_exists(const std::filesystem::path& path, const std::string& what, const std::string& key) {
  if (path.empty()) MUST_THROW(Error, what, ": none given", key.empty() ? "" : " (set " + key + ")");
  if (!std::filesystem::exists(path)) MUST_THROW(Error, what, " ", path.string(), " does not exist");
}

nlohmann::json read_json(const std::filesystem::path& path, const std::string& what, const std::string& key) {
  require_exists(path, what, key);
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
