#include "must/eval/prediction_files.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/data/decode.h"
#include "must/data/image_io.h"

namespace must::eval {
namespace {

constexpr int kVersion = 1;

// The task's folder of per-image maps, "" for tasks stored in one JSON file.
std::string map_folder(Task task) {
  switch (task_spec(task).target) {
    case TargetKind::kClassMap:
    case TargetKind::kFloatMap:
    case TargetKind::kUnitVectorMap: return std::string(task_name(task));
    case TargetKind::kClassVector:
    case TargetKind::kBoxes: return "";
  }
  return "";
}

std::string map_file_name(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof(name), "%06lld.png", static_cast<long long>(index));
  return name;
}

nlohmann::json parse_json(const std::filesystem::path& file, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, file.string(), ": malformed JSON (", e.what(), ")");
  }
}

}  // namespace

torch::Tensor depth_to_stored(const torch::Tensor& metres, const PredictionEncoding& encoding) {
  const torch::Tensor d = metres.to(torch::kCPU, torch::kDouble).reshape({metres.size(-2), metres.size(-1)});
  // NaN -> 0 ("no prediction"), which scores as the minimum depth, as a NaN prediction would.
  return (d * encoding.depth_units_per_metre).round().nan_to_num(0.0, 65535.0, 0.0).clamp(1, 65535).to(torch::kInt32) *
         d.isnan().logical_not();
}

torch::Tensor depth_from_stored(const torch::Tensor& stored, const PredictionEncoding& encoding) {
  return (stored.to(torch::kDouble) / encoding.depth_units_per_metre).to(torch::kFloat).unsqueeze(0);
}

torch::Tensor normals_to_stored(const torch::Tensor& normals) {
  const torch::Tensor n = normals.to(torch::kCPU, torch::kDouble).nan_to_num(0.0, 0.0, 0.0).clamp(-1, 1);
  return ((n + 1) / 2 * 65535).round().to(torch::kInt32).permute({1, 2, 0}).contiguous();
}

torch::Tensor normals_from_stored(const torch::Tensor& stored) {
  return (stored.to(torch::kDouble) / 65535 * 2 - 1).to(torch::kFloat).permute({2, 0, 1}).contiguous();
}

ImagePrediction in_stored_precision(Task task, ImagePrediction prediction, const PredictionEncoding& encoding) {
  switch (task_spec(task).target) {
    case TargetKind::kFloatMap:
      prediction.values = depth_from_stored(depth_to_stored(prediction.values, encoding), encoding);
      break;
    case TargetKind::kUnitVectorMap: prediction.values = normals_from_stored(normals_to_stored(prediction.values)); break;
    case TargetKind::kClassVector:
    case TargetKind::kBoxes:
    case TargetKind::kClassMap: break;
  }
  return prediction;
}

int64_t coco_image_id(const data::DatasetInfo& info, int64_t index) {
  return info.image_ids.empty() ? index : info.image_ids.at(size_t(index));
}

int64_t coco_category_id(const data::DatasetInfo& info, int64_t class_index) {
  return info.category_ids.empty() ? class_index + 1 : info.category_ids.at(size_t(class_index));
}

PredictionWriter::PredictionWriter(std::filesystem::path dir, std::string dataset_name, const data::Dataset& dataset,
                                   std::vector<Task> tasks, PredictionEncoding encoding,
                                   std::map<Task, int64_t> class_counts)
    : dir_(std::move(dir)),
      dataset_name_(std::move(dataset_name)),
      info_(dataset.info()),
      dataset_size_(dataset.size()),
      tasks_(std::move(tasks)),
      encoding_(encoding),
      class_counts_(std::move(class_counts)) {
  ensure_directory(dir_);
  for (Task task : tasks_) {
    if (!map_folder(task).empty()) ensure_directory(dir_ / map_folder(task));
  }
}

void PredictionWriter::write(Task task, int64_t index, const std::string& source, const ImagePrediction& prediction) {
  images_[index] = source;
  switch (task_spec(task).target) {
    case TargetKind::kClassVector: {
      nlohmann::ordered_json line{{"index", index}, {"image", source}};
      const torch::Tensor classes = prediction.values.to(torch::kCPU, torch::kLong).contiguous();
      line["classes"] = std::vector<int64_t>(classes.data_ptr<int64_t>(), classes.data_ptr<int64_t>() + classes.numel());
      if (prediction.scores.defined()) {
        const torch::Tensor scores = prediction.scores.to(torch::kCPU, torch::kDouble).contiguous();
        line["scores"] = std::vector<double>(scores.data_ptr<double>(), scores.data_ptr<double>() + scores.numel());
      }
      classification_lines_.push_back(line.dump());
      return;
    }
    case TargetKind::kBoxes:
      for (const DetectedBox& box : prediction.detections) {
        const nlohmann::ordered_json entry{{"image_id", coco_image_id(info_, index)},
                                           {"category_id", coco_category_id(info_, box.category)},
                                           {"bbox", {box.box.x, box.box.y, box.box.w, box.box.h}},
                                           {"score", box.score}};
        if (!detections_.empty()) detections_ += ",\n";
        detections_ += entry.dump();
      }
      return;
    case TargetKind::kClassMap: {
      const torch::Tensor map = prediction.values.to(torch::kCPU, torch::kLong);
      const int64_t classes = info_.class_names.count(task) ? int64_t(info_.class_names.at(task).size())
                              : class_counts_.count(task)   ? class_counts_.at(task)
                                                            : 65536;
      const auto path = dir_ / map_folder(task) / map_file_name(index);
      if (classes <= 256) {
        const torch::Tensor bytes = map.to(torch::kUInt8).contiguous();
        data::write_png(path, bytes.data_ptr(), int(map.size(-2)), int(map.size(-1)), 1, 8);
      } else {
        const torch::Tensor words = map.to(torch::kInt32).contiguous();
        std::vector<uint16_t> samples(words.data_ptr<int32_t>(), words.data_ptr<int32_t>() + words.numel());
        data::write_png(path, samples.data(), int(map.size(-2)), int(map.size(-1)), 1, 16);
      }
      return;
    }
    case TargetKind::kFloatMap:
    case TargetKind::kUnitVectorMap: {
      const bool depth = task_spec(task).target == TargetKind::kFloatMap;
      const torch::Tensor stored = depth ? depth_to_stored(prediction.values, encoding_) : normals_to_stored(prediction.values);
      const torch::Tensor flat = stored.contiguous();
      std::vector<uint16_t> samples(flat.data_ptr<int32_t>(), flat.data_ptr<int32_t>() + flat.numel());
      data::write_png(dir_ / map_folder(task) / map_file_name(index), samples.data(), int(stored.size(0)),
                      int(stored.size(1)), depth ? 1 : 3, 16);
      return;
    }
  }
}

void PredictionWriter::finish() {
  std::string images;
  for (const auto& [index, source] : images_) images += std::to_string(index) + " " + source + "\n";
  atomic_write_file(dir_ / "images.txt", images);
  for (Task task : tasks_) {
    if (task_spec(task).target == TargetKind::kClassVector) {
      std::string text;
      for (const auto& line : classification_lines_) text += line + "\n";
      atomic_write_file(dir_ / (std::string(task_name(task)) + ".jsonl"), text);
    }
    if (task_spec(task).target == TargetKind::kBoxes) {
      atomic_write_file(dir_ / (std::string(task_name(task)) + ".json"), "[" + detections_ + "]\n");
    }
  }
  nlohmann::ordered_json manifest{{"version", kVersion},
                                  {"dataset", dataset_name_},
                                  {"size", dataset_size_},
                                  {"depth_units_per_metre", encoding_.depth_units_per_metre}};
  for (Task task : tasks_) manifest["tasks"].push_back(std::string(task_name(task)));
  atomic_write_file(dir_ / "predictions.json", manifest.dump(2) + "\n");
}

PredictionReader::PredictionReader(const std::filesystem::path& path, const data::Dataset& dataset) {
  MUST_CHECK(std::filesystem::exists(path), "predictions ", path.string(), " do not exist");
  if (!std::filesystem::is_directory(path)) {  // a COCO results file
    results_file_ = path;
    tasks_ = {Task::kDetection};
    read_detections(path, dataset);
    for (int64_t i = 0; i < dataset.size(); ++i) indices_.push_back(i);
    return;
  }
  dir_ = path;
  const auto manifest_file = dir_ / "predictions.json";
  const nlohmann::json manifest = parse_json(manifest_file, read_file(manifest_file));
  try {
    MUST_CHECK(manifest.at("version").get<int>() == kVersion, manifest_file.string(), ": version ",
               manifest.at("version"), ", this reader knows ", kVersion);
    const int64_t size = manifest.at("size").get<int64_t>();
    MUST_CHECK(size == dataset.size(), manifest_file.string(), ": saved for a dataset of ", size,
               " images, this one has ", dataset.size());
    encoding_.depth_units_per_metre = manifest.at("depth_units_per_metre").get<double>();
    for (const auto& name : manifest.at("tasks")) tasks_.push_back(task_from_name(name.get<std::string>()));
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, manifest_file.string(), ": ", e.what());
  }
  const auto listing = dir_ / "images.txt";
  std::istringstream listed(read_file(listing));
  int64_t listed_index = 0;
  std::string source;
  while (listed >> listed_index && std::getline(listed, source)) {
    MUST_CHECK(listed_index >= 0 && listed_index < dataset.size(), listing.string(), ": index ", listed_index,
               " outside the dataset");
    indices_.push_back(listed_index);
  }
  for (Task task : tasks_) {
    if (task_spec(task).target == TargetKind::kBoxes) {
      read_detections(dir_ / (std::string(task_name(task)) + ".json"), dataset);
    }
    if (task_spec(task).target != TargetKind::kClassVector) continue;
    const auto file = dir_ / (std::string(task_name(task)) + ".jsonl");
    std::istringstream lines(read_file(file));
    std::string line;
    for (int64_t number = 1; std::getline(lines, line); ++number) {
      if (line.empty()) continue;
      const nlohmann::json entry = parse_json(file.string() + ":" + std::to_string(number), line);
      try {
        const int64_t index = entry.at("index").get<int64_t>();
        MUST_CHECK(index >= 0 && index < dataset.size(), file.string(), ":", number, ": index ", index,
                   " outside the dataset (", dataset.size(), " images)");
        const auto classes = entry.at("classes").get<std::vector<int64_t>>();
        MUST_CHECK(!classes.empty(), file.string(), ":", number, ": no classes");
        classification_[index].values = torch::tensor(classes, torch::kLong);
      } catch (const nlohmann::json::exception& e) {
        MUST_THROW(Error, file.string(), ":", number, ": ", e.what());
      }
    }
  }
}

namespace {

// The dataset index of a COCO result's image_id: a number (the dataset's id) or a string (PredictionReader's rule).
class ImageIds {
 public:
  explicit ImageIds(const data::Dataset& dataset) : dataset_(dataset) {
    for (int64_t i = 0; i < dataset.size(); ++i) index_of_id_[coco_image_id(dataset.info(), i)] = i;
  }
  // -1 when the dataset has no such image; throws naming both images when a string names two.
  int64_t index_of(const nlohmann::json& image_id, const std::string& where) {
    if (!image_id.is_string()) {
      const auto found = index_of_id_.find(image_id.get<int64_t>());
      return found == index_of_id_.end() ? -1 : found->second;
    }
    const std::string text = image_id.get<std::string>();
    const auto cached = index_of_string_.find(text);
    if (cached != index_of_string_.end()) return cached->second;
    std::set<int64_t> matches;
    char* end = nullptr;
    const long long number = std::strtoll(text.c_str(), &end, 10);
    if (!text.empty() && *end == '\0' && index_of_id_.count(number)) matches.insert(index_of_id_.at(number));
    if (text.find('/') == std::string::npos) {  // a file name or stem: looked up
      if (by_name_.empty()) {
        for (int64_t i = 0; i < dataset_.size(); ++i) {
          const std::filesystem::path source = dataset_.source(i);
          by_name_.emplace(source.filename().string(), i);
          by_name_.emplace(source.stem().string(), i);
        }
      }
      const auto [first, last] = by_name_.equal_range(text);
      for (auto it = first; it != last; ++it) matches.insert(it->second);
    } else {  // the end of a path, with or without the extension: a scan, once per such string
      auto ends_with_part = [&](const std::string& path) {
        return path == text || (path.size() > text.size() && path[path.size() - text.size() - 1] == '/' &&
                                path.compare(path.size() - text.size(), text.size(), text) == 0);
      };
      for (int64_t i = 0; i < dataset_.size(); ++i) {
        const std::filesystem::path source(dataset_.source(i));
        if (ends_with_part(source.generic_string()) || ends_with_part(std::filesystem::path(source).replace_extension().generic_string())) {
          matches.insert(i);
        }
      }
    }
    if (matches.size() > 1) {
      MUST_THROW(Error, where, ": image_id \"", text, "\" names more than one image: ", dataset_.source(*matches.begin()), " and ",
                 dataset_.source(*std::next(matches.begin())), "; give more of the path or the dataset's numeric id");
    }
    return index_of_string_[text] = matches.empty() ? -1 : *matches.begin();
  }

 private:
  const data::Dataset& dataset_;
  std::map<int64_t, int64_t> index_of_id_;
  std::map<std::string, int64_t> index_of_string_;
  std::multimap<std::string, int64_t> by_name_;  // file names and stems, made at the first string id
};

}  // namespace

void PredictionReader::read_detections(const std::filesystem::path& file, const data::Dataset& dataset) {
  const data::DatasetInfo& info = dataset.info();
  ImageIds image_ids(dataset);
  std::map<int64_t, int64_t> class_of_category;
  const int64_t classes = int64_t(info.class_names.count(Task::kDetection) ? info.class_names.at(Task::kDetection).size() : 0);
  for (int64_t k = 0; k < classes; ++k) class_of_category[coco_category_id(info, k)] = k;
  const nlohmann::json results = parse_json(file, read_file(file));
  MUST_CHECK(results.is_array(), file.string(), ": a COCO results file is a JSON array of detections");
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& entry = results[i];
    auto where = [&] { return file.string() + ": detection " + std::to_string(i); };
    try {
      const int64_t image = image_ids.index_of(entry.at("image_id"), where());
      if (image < 0) MUST_THROW(Error, where(), " has image_id ", entry.at("image_id").dump(), ", which the dataset does not have");
      const int64_t category_id = entry.at("category_id").get<int64_t>();
      const auto category = class_of_category.find(category_id);
      if (category == class_of_category.end()) {
        MUST_THROW(Error, where(), " has category_id ", category_id, ", which is not a category of the dataset");
      }
      const auto& bbox = entry.at("bbox");
      if (!bbox.is_array() || bbox.size() != 4) MUST_THROW(Error, where(), ": bbox must be [x, y, width, height]");
      DetectedBox box{category->second, {bbox[0].get<double>(), bbox[1].get<double>(), bbox[2].get<double>(), bbox[3].get<double>()},
                      entry.at("score").get<double>()};
      detections_[image].push_back(box);
    } catch (const nlohmann::json::exception& e) {
      MUST_THROW(Error, where(), ": ", e.what());
    }
  }
}

std::string PredictionReader::where(Task task, int64_t index) const {
  if (!results_file_.empty()) return results_file_.string();
  const std::string folder = map_folder(task);
  if (folder.empty()) {
    return (dir_ / (std::string(task_name(task)) + (task_spec(task).target == TargetKind::kBoxes ? ".json" : ".jsonl"))).string();
  }
  return (dir_ / folder / map_file_name(index)).string();
}

ImagePrediction PredictionReader::read(Task task, int64_t index) const {
  ImagePrediction prediction;
  switch (task_spec(task).target) {
    case TargetKind::kBoxes: {
      const auto found = detections_.find(index);
      if (found != detections_.end()) prediction.detections = found->second;
      return prediction;
    }
    case TargetKind::kClassVector: {
      const auto found = classification_.find(index);
      MUST_CHECK(found != classification_.end(), where(task, index), ": no prediction for image ", index);
      return found->second;
    }
    case TargetKind::kClassMap:
    case TargetKind::kFloatMap:
    case TargetKind::kUnitVectorMap: break;
  }
  const std::filesystem::path file = where(task, index);
  MUST_CHECK(std::filesystem::exists(file), "missing prediction ", file.string());
  const torch::Tensor stored = data::read_png_samples(file);
  switch (task_spec(task).target) {
    case TargetKind::kClassMap:
      MUST_CHECK(stored.dim() == 2, file.string(), ": a class map has one channel");
      prediction.values = stored.to(torch::kLong);
      break;
    case TargetKind::kFloatMap:
      MUST_CHECK(stored.dim() == 2 && stored.scalar_type() == torch::kInt32, file.string(), ": expected a 16-bit gray depth PNG");
      prediction.values = depth_from_stored(stored, encoding_);
      break;
    default:
      MUST_CHECK(stored.dim() == 3 && stored.size(2) == 3 && stored.scalar_type() == torch::kInt32, file.string(),
                 ": expected a 16-bit RGB normals PNG");
      prediction.values = normals_from_stored(stored);
      break;
  }
  return prediction;
}

}  // namespace must::eval
