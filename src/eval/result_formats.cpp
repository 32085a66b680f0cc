#include "must/eval/result_formats.h"

#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "must/core/check.h"
#include "must/core/strings.h"
#include "must/data/cityscapes_labels.h"
#include "must/data/decode.h"
#include "must/eval/confusion_matrix.h"

namespace must::eval {
namespace {

constexpr int64_t kNoClass = ConfusionMatrix::kNoClass;
constexpr int64_t kNotInSpace = -2;

// The class of each stored value of a format (index: the value; kNoClass; kNotInSpace for a value the format
// never holds), for a dataset of `classes` classes.
using ValueTable = std::vector<int64_t> (*)(int64_t classes);

std::vector<int64_t> class_indices(int64_t classes) {  // 0..C-1
  std::vector<int64_t> table(static_cast<size_t>(classes));
  for (int64_t k = 0; k < classes; ++k) table[size_t(k)] = k;
  return table;
}

std::vector<int64_t> class_indices_or_255(int64_t classes) {  // 0..C-1, 255 = no class
  std::vector<int64_t> table = class_indices(classes);
  if (classes <= 255) {
    table.resize(256, kNotInSpace);
    table[255] = kNoClass;
  }
  return table;
}

std::vector<int64_t> cityscapes_label_ids(int64_t) {  // labelIds 0..33: the 19 trainIds, the rest no class
  std::vector<int64_t> table(size_t(data::kCityscapesLastLabelId + 1), kNoClass);
  for (size_t train_id = 0; train_id < data::kCityscapesLabelIdOfTrainId.size(); ++train_id) {
    table[size_t(data::kCityscapesLabelIdOfTrainId[train_id])] = int64_t(train_id);
  }
  return table;
}

std::vector<int64_t> ade20k_one_based(int64_t) {  // 1..150, 0 = no class
  std::vector<int64_t> table(151);
  table[0] = kNoClass;
  for (int64_t k = 1; k <= 150; ++k) table[size_t(k)] = k - 1;
  return table;
}

enum class FormatKind { kOurs, kVocDetectionFiles, kClassPngs };

struct ResultFormat {
  std::string name;
  std::string reads;  // what it is, for help and errors
  FormatKind kind;
  std::string dataset_format;  // the dataset reader whose official format it is; "" = any dataset with the task
  Task task;
  ValueTable values;  // kClassPngs (and our folder's class maps): what each stored value means
};

// Cut from an image's file stem to give the start of its prediction's name in a folder of PNGs: Cityscapes'
// results are <city>_<seq>_<frame>*.png whatever the space.
std::string image_name_suffix(const std::string& dataset_format) {
  return dataset_format == "cityscapes" ? "_leftImg8bit" : "";
}

const std::vector<ResultFormat>& result_formats() {
  static const std::vector<ResultFormat> formats = {
      {"must", "a --save-predictions folder or a COCO results JSON file", FormatKind::kOurs, "", Task::kSegmentation,
       class_indices},
      {"voc-det", "VOC devkit detection results, <comp>_det_<set>_<class>.txt per class",
       FormatKind::kVocDetectionFiles, "", Task::kDetection, nullptr},
      {"class-png", "PNGs of the dataset's class indices, 255 = no class", FormatKind::kClassPngs, "",
       Task::kSegmentation, class_indices_or_255},
      {"cityscapes-labelids", "Cityscapes labelIds 0..33", FormatKind::kClassPngs, "cityscapes", Task::kSegmentation,
       cityscapes_label_ids},
      {"ade20k", "SceneParsing PNGs of classes 1..150, 0 = no class", FormatKind::kClassPngs, "ade20k",
       Task::kSegmentation, ade20k_one_based},
  };
  return formats;
}

bool has_task(const data::DatasetInfo& info, Task task) {
  return std::find(info.tasks.begin(), info.tasks.end(), task) != info.tasks.end();
}

bool fits(const ResultFormat& format, const data::DatasetInfo& info, const std::string& dataset_format) {
  if (format.kind == FormatKind::kOurs) return true;
  return (format.dataset_format.empty() || format.dataset_format == dataset_format) && has_task(info, format.task);
}

// "--predictions-format a (what a reads), --predictions-format b (...)": the formats that fit the dataset, but
// `except`; only the folders of class-map PNGs when `class_maps`.
std::string formats_that_fit(const data::DatasetInfo& info, const std::string& dataset_format,
                             const std::string& except, bool class_maps) {
  std::vector<std::string> named;
  for (const ResultFormat& format : result_formats()) {
    if (format.name == except || !fits(format, info, dataset_format)) continue;
    if (class_maps && format.kind != FormatKind::kClassPngs) continue;
    named.push_back("--predictions-format " + format.name + " (" + format.reads + ")");
  }
  return join(named);
}

int64_t class_count(const data::DatasetInfo& info, Task task) {
  const auto names = info.class_names.find(task);
  return names == info.class_names.end() ? 0 : int64_t(names->second.size());
}

// The dataset index of each image's file stem; -1 for a stem two images share.
std::map<std::string, int64_t> index_of_stem(const data::Dataset& dataset) {
  std::map<std::string, int64_t> index;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const auto [at, inserted] = index.emplace(std::filesystem::path(dataset.source(i)).stem().string(), i);
    if (!inserted) at->second = -1;
  }
  return index;
}

// Another source's class maps through a format's value table: values outside the format's space are an error
// naming the value, its place and the formats that read other spaces.
class MappedClassMaps final : public PredictionSource {
 public:
  MappedClassMaps(std::unique_ptr<PredictionSource> stored, std::vector<int64_t> class_of_value, std::string space,
                  std::string other_formats)
      : stored_(std::move(stored)),
        class_of_value_(std::move(class_of_value)),
        space_(std::move(space)),
        other_formats_(std::move(other_formats)) {}
  std::vector<Task> tasks() const override { return stored_->tasks(); }
  const std::vector<int64_t>& indices() const override { return stored_->indices(); }
  std::string where(Task task, int64_t index) const override { return stored_->where(task, index); }
  ImagePrediction read(Task task, int64_t index) const override {
    ImagePrediction prediction = stored_->read(task, index);
    if (task_spec(task).target != TargetKind::kClassMap) return prediction;
    const torch::Tensor values = prediction.values.to(torch::kLong).contiguous();
    torch::Tensor classes = torch::empty_like(values);
    const int64_t* in = values.data_ptr<int64_t>();
    int64_t* out = classes.data_ptr<int64_t>();
    const auto table_size = int64_t(class_of_value_.size());
    for (int64_t i = 0; i < values.numel(); ++i) {
      out[i] = in[i] >= 0 && in[i] < table_size ? class_of_value_[size_t(in[i])] : kNotInSpace;
      if (out[i] == kNotInSpace) {
        const int64_t width = values.size(-1);
        MUST_THROW(Error, where(task, index), ": value ", in[i], " at row ", i / width, ", column ", i % width,
                   " is not in this format's space (", space_, ")",
                   other_formats_.empty() ? "" : "; files of another space are read with " + other_formats_);
      }
    }
    prediction.values = classes;
    return prediction;
  }

 private:
  std::unique_ptr<PredictionSource> stored_;
  std::vector<int64_t> class_of_value_;
  std::string space_, other_formats_;
};

// A folder of one class-map PNG per image, found by the image's file stem (less `image_suffix`, then any
// "_<more>" after it: Cityscapes' <city>_<seq>_<frame>*.png), the stored values as they are.
class ClassPngFolder final : public PredictionSource {
 public:
  ClassPngFolder(const std::filesystem::path& dir, const data::Dataset& dataset, const std::string& image_suffix) {
    MUST_CHECK(std::filesystem::is_directory(dir), dir.string(), ": this format is a folder of PNGs, one per image");
    std::map<std::string, std::filesystem::path> by_stem;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".png") continue;
      const auto [at, inserted] = by_stem.emplace(entry.path().stem().string(), entry.path());
      MUST_CHECK(inserted, dir.string(), ": ", at->second.string(), " and ", entry.path().string(),
                 " share a name: which one is the prediction?");
    }
    for (int64_t i = 0; i < dataset.size(); ++i) {
      std::string key = std::filesystem::path(dataset.source(i)).stem().string();
      if (!image_suffix.empty() && ends_with(key, image_suffix)) key.resize(key.size() - image_suffix.size());
      std::vector<std::filesystem::path> found;
      for (auto it = by_stem.lower_bound(key); it != by_stem.end() && starts_with(it->first, key); ++it) {
        const bool whole = it->first.size() == key.size();
        if (whole || (!image_suffix.empty() && it->first[key.size()] == '_')) found.push_back(it->second);
      }
      const std::string looked_for = key + (image_suffix.empty() ? ".png" : "*.png");
      if (found.empty()) {
        std::vector<std::string> some;
        for (auto it = by_stem.begin(); it != by_stem.end() && some.size() < 3; ++it)
          some.push_back(it->first + ".png");
        MUST_THROW(Error, dir.string(), ": no prediction for image ", dataset.source(i), " (looked for ", looked_for,
                   " in the folder and its subfolders, which hold ", by_stem.size(), " PNGs",
                   some.empty() ? "" : ": " + join(some) + (by_stem.size() > 3 ? ", ..." : ""), ")");
      }
      MUST_CHECK(found.size() == 1, dir.string(), ": ", found[0].string(), " and ", found[1].string(),
                 " both match image ", dataset.source(i), " (", looked_for, ")");
      files_.push_back(found[0]);
      indices_.push_back(i);
    }
  }
  std::vector<Task> tasks() const override { return {Task::kSegmentation}; }
  const std::vector<int64_t>& indices() const override { return indices_; }
  std::string where(Task, int64_t index) const override { return files_.at(size_t(index)).string(); }
  ImagePrediction read(Task task, int64_t index) const override {
    const torch::Tensor stored = data::read_png_samples(where(task, index));
    MUST_CHECK(stored.dim() == 2, where(task, index),
               ": a class map has one channel (gray or palette indices), this PNG has ", stored.size(-1));
    ImagePrediction prediction;
    prediction.values = stored.to(torch::kLong);
    return prediction;
  }

 private:
  std::vector<std::filesystem::path> files_;  // by dataset index
  std::vector<int64_t> indices_;
};

// The VOC devkit's per-class detection files (VOCevaldet.m's input).
class VocDetectionFiles final : public PredictionSource {
 public:
  VocDetectionFiles(const std::filesystem::path& dir, const data::Dataset& dataset) {
    MUST_CHECK(std::filesystem::is_directory(dir), dir.string(),
               ": voc-det reads a folder of <comp>_det_<set>_<class>.txt "
               "files; a COCO results file is read with --predictions-format must");
    MUST_CHECK(dataset.info().class_names.count(Task::kDetection), dataset.info().name,
               ": names no detection classes, which the files' names need");
    const std::vector<std::string>& classes = dataset.info().class_names.at(Task::kDetection);
    const std::map<std::string, int64_t> images = index_of_stem(dataset);
    std::vector<std::filesystem::path> listing;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && ends_with(name, ".txt") && name.find("_det_") != std::string::npos) {
        listing.push_back(entry.path());
      }
    }
    std::sort(listing.begin(), listing.end());
    MUST_CHECK(!listing.empty(), dir.string(), ": no <comp>_det_<set>_<class>.txt file (comp4_det_test_aeroplane.txt)");
    std::map<int64_t, std::filesystem::path> file_of_class;
    for (const auto& file : listing) {
      const int64_t category = class_of_file(file, classes);
      const auto [at, inserted] = file_of_class.emplace(category, file);
      MUST_CHECK(inserted, dir.string(), ": ", at->second.string(), " and ", file.string(), " both hold class ",
                 classes[size_t(category)]);
      read_file_of_class(file, category, images);
    }
    for (int64_t i = 0; i < dataset.size(); ++i) indices_.push_back(i);
    where_ = dir.string();
  }
  std::vector<Task> tasks() const override { return {Task::kDetection}; }
  const std::vector<int64_t>& indices() const override { return indices_; }
  std::string where(Task, int64_t) const override { return where_; }
  ImagePrediction read(Task, int64_t index) const override {
    ImagePrediction prediction;
    const auto found = detections_.find(index);
    if (found != detections_.end()) prediction.detections = found->second;
    return prediction;
  }

 private:
  std::map<int64_t, std::vector<DetectedBox>> detections_;  // by dataset index
  std::vector<int64_t> indices_;
  std::string where_;

  // The class a file's name ends with, after "_det_<set>": the longest class name that fits.
  static int64_t class_of_file(const std::filesystem::path& file, const std::vector<std::string>& classes) {
    const std::string name = file.filename().string();
    const std::string rest = name.substr(name.find("_det_") + 5, name.size() - name.find("_det_") - 5 - 4);
    int64_t best = -1;
    for (size_t k = 0; k < classes.size(); ++k) {
      if (ends_with(rest, "_" + classes[k]) && (best < 0 || classes[k].size() > classes[size_t(best)].size())) {
        best = int64_t(k);
      }
    }
    MUST_CHECK(best >= 0, file.string(), ": the name ends in no class of the dataset (", join(classes), ")");
    return best;
  }

  void read_file_of_class(const std::filesystem::path& file, int64_t category,
                          const std::map<std::string, int64_t>& images) {
    std::ifstream in(file);
    MUST_CHECK(in, "cannot read ", file.string());
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      std::istringstream fields(line);
      std::string id;
      double score = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0;
      if (!(fields >> id)) continue;  // a blank line
      std::string extra;
      MUST_CHECK(fields >> score >> x1 >> y1 >> x2 >> y2 && !(fields >> extra), file.string(), ":", number,
                 ": expected \"<image id> <confidence> <xmin> <ymin> <xmax> <ymax>\", got \"", printable(line), "\"");
      const auto image = images.find(id);
      MUST_CHECK(image != images.end(), file.string(), ":", number, ": image id ", printable(id),
                 " is no image of the dataset");
      MUST_CHECK(image->second >= 0, file.string(), ":", number, ": image id ", id, " names more than one image");
      MUST_CHECK(x2 >= x1 - 1 && y2 >= y1 - 1, file.string(), ":", number, ": xmax < xmin - 1 or ymax < ymin - 1");
      // 1-based inclusive corners (the annotation XML's convention) to pixel edges: (x1 - 1, y1 - 1) to (x2, y2).
      detections_[image->second].push_back({category, {x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1}, score});
    }
  }
};

const ResultFormat& format_named(const std::string& name) {
  for (const ResultFormat& format : result_formats()) {
    if (format.name == name) return format;
  }
  MUST_THROW(ConfigError, "--predictions-format ", name, ": no such format (", join(prediction_format_names()), ")");
}

}  // namespace

std::vector<std::string> prediction_format_names() {
  std::vector<std::string> names;
  for (const ResultFormat& format : result_formats()) names.push_back(format.name);
  return names;
}

std::vector<std::string> prediction_format_help() {
  std::vector<std::string> help;
  for (const ResultFormat& format : result_formats()) help.push_back(format.name + ": " + format.reads);
  return help;
}

std::unique_ptr<PredictionSource> open_predictions(const std::filesystem::path& path, const std::string& format_name,
                                                   const data::Dataset& dataset, const std::string& dataset_format) {
  const data::DatasetInfo& info = dataset.info();
  MUST_CHECK(std::filesystem::exists(path), "predictions ", path.string(), " do not exist");
  if (format_name.empty() && std::filesystem::is_directory(path) &&
      !std::filesystem::exists(path / "predictions.json")) {
    MUST_THROW(ConfigError, path.string(),
               " holds no predictions.json, so it is no --save-predictions folder: say which "
               "format it is in: ",
               formats_that_fit(info, dataset_format, "must", false));
  }
  const ResultFormat& format = format_named(format_name.empty() ? "must" : format_name);
  if (!fits(format, info, dataset_format)) {
    MUST_THROW(ConfigError, "--predictions-format ", format.name, " reads ", format.reads, ", which this dataset (",
               info.name, ") has no use for; its formats: ", formats_that_fit(info, dataset_format, "", false));
  }
  const int64_t classes = class_count(info, Task::kSegmentation);
  std::string other_formats = formats_that_fit(info, dataset_format, format.name, true);
  switch (format.kind) {
    case FormatKind::kOurs: {
      auto ours = std::make_unique<PredictionReader>(path, dataset);
      if (classes == 0) return ours;  // a dataset that names no classes: the evaluator checks the count
      return std::make_unique<MappedClassMaps>(std::move(ours), format.values(classes),
                                               "the dataset's class indices 0.." + std::to_string(classes - 1),
                                               std::move(other_formats));
    }
    case FormatKind::kVocDetectionFiles:
      return std::make_unique<VocDetectionFiles>(path, dataset);
    case FormatKind::kClassPngs:
      return std::make_unique<MappedClassMaps>(
          std::make_unique<ClassPngFolder>(path, dataset, image_name_suffix(dataset_format)),
          format.values(classes ? classes : 65536),
          format.reads + (classes ? "; the dataset's classes are 0.." + std::to_string(classes - 1) : ""),
          std::move(other_formats));
  }
  MUST_THROW(Error, "unknown result format kind");
}

}  // namespace must::eval
