// The world (must_make_world's folders; the layout is specified in must/world/world_writer.h): one split, with
// every label the split holds.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>

#include "must/core/check.h"
#include "must/core/strings.h"
#include "must/data/decode.h"
#include "readers.h"

namespace must::data::readers {
namespace {

class WorldDataset final : public Dataset {
 public:
  explicit WorldDataset(const DatasetOptions& options) : split_dir_(options.root / options.split) {
    readers::require_exists(options.root, "world", options.key("root"));
    const auto index = options.root / "dataset.json";
    const nlohmann::json json = read_json(index, "world index (is the world complete?)");
    if (!json["splits"].contains(options.split)) {
      std::vector<std::string> names;
      for (const auto& entry : json["splits"].items()) names.push_back(entry.key());
      MUST_THROW(ConfigError, index.string(), ": no split '", options.split, "'; splits: ", join(names));
    }
    const auto classes = json.at("classes").get<std::vector<std::string>>();
    for (const auto& name : json["splits"][options.split].at("labels").get<std::vector<std::string>>()) {
      info_.tasks.push_back(task_from_name(name));
    }
    info_.name = "world:" + options.split;
    for (const auto& line : read_lines(split_dir_ / "images.txt")) images_.push_back(line);
    if (has(Task::kClassification)) {
      info_.class_names[Task::kClassification] = classes;
      const auto path = split_dir_ / "classification.txt";
      const auto lines = read_lines(path);
      MUST_CHECK(lines.size() == images_.size(), path.string(), ": ", lines.size(), " lines for ", images_.size(), " images");
      for (size_t i = 0; i < lines.size(); ++i) {
        const auto fields = split(lines[i], ' ');
        MUST_CHECK(fields.size() == 2 && fields[0] == images_[i], path.string(), ":", i + 1, ": expected '", images_[i],
                   " <class>', got '", lines[i], "'");
        classification_.push_back(std::stoll(fields[1]));
      }
    }
    if (has(Task::kDetection)) {
      DatasetOptions coco_options;
      coco_options.root = split_dir_;
      coco_options.annotations = split_dir_ / "detection.json";
      detection_ = readers::coco(coco_options);
      MUST_CHECK(detection_->size() == int64_t(images_.size()), coco_options.annotations.string(), ": ",
                 detection_->size(), " images, images.txt lists ", images_.size());
      info_.class_names[Task::kDetection] = classes;
      info_.image_ids = detection_->info().image_ids;
      info_.category_ids = detection_->info().category_ids;
    }
    if (has(Task::kSegmentation)) {
      info_.class_names[Task::kSegmentation] = json.at("segmentation_classes").get<std::vector<std::string>>();
    }
  }
  int64_t size() const override { return int64_t(images_.size()); }
  std::string source(int64_t index) const override {
    return detection_ ? detection_->source(index) : (split_dir_ / images_.at(size_t(index))).string();
  }
  Sample get(int64_t index) const override {
    const std::string& image = images_.at(size_t(index));
    Sample sample;
    if (detection_) {
      sample = detection_->get(index);  // reads the image too
    } else {
      sample = encoded_sample(split_dir_ / image);
    }
    const std::string name = std::filesystem::path(image).filename().string();
    if (has(Task::kClassification)) {
      sample.labels[Task::kClassification] =
          one_hot(classification_[size_t(index)], int64_t(info_.class_names.at(Task::kClassification).size()));
    }
    if (has(Task::kSegmentation)) {
      sample.labels[Task::kSegmentation] = read_png_samples(split_dir_ / "segmentation" / name).to(torch::kLong);
    }
    if (has(Task::kDepth)) {  // millimetres
      sample.labels[Task::kDepth] = (read_png_samples(split_dir_ / "depth" / name).to(torch::kFloat) / 1000.0).unsqueeze(0);
    }
    if (has(Task::kNormals)) {  // v / (2^bits - 1) * 2 - 1, with stored (0, 0, 0) invalid
      const torch::Tensor stored = read_png_samples(split_dir_ / "normals" / name);
      const double top = stored.scalar_type() == torch::kUInt8 ? 255.0 : 65535.0;
      const torch::Tensor valid = stored.ne(0).any(2, /*keepdim=*/true);
      sample.labels[Task::kNormals] = ((stored.to(torch::kFloat) / top * 2 - 1) * valid).permute({2, 0, 1}).contiguous();
    }
    return sample;
  }

 private:
  bool has(Task task) const { return std::find(info_.tasks.begin(), info_.tasks.end(), task) != info_.tasks.end(); }

  std::filesystem::path split_dir_;
  std::vector<std::string> images_;
  std::vector<int64_t> classification_;
  std::shared_ptr<Dataset> detection_;
};

}  // namespace

std::shared_ptr<Dataset> world(const DatasetOptions& options) { return std::make_shared<WorldDataset>(options); }

}  // namespace must::data::readers
