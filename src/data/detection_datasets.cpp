// Box datasets: COCO instances JSON (also Objects365's format) and PASCAL VOC XML.
#include <nlohmann/json.hpp>
#include <tinyxml2.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

#include "must/core/check.h"
#include "must/data/decode.h"
#include "readers.h"

namespace must::data::readers {
namespace {

structures::Instances make_instances(const std::vector<float>& boxes, const std::vector<int64_t>& labels,
                                     const std::vector<bool>& ignore, const std::vector<double>& areas = {}) {
  structures::Instances out;
  const int64_t n = int64_t(labels.size());
  out.boxes = torch::tensor(boxes, torch::kFloat).view({n, 4}).clone();
  out.labels = torch::tensor(labels, torch::kLong).view({n}).clone();
  out.ignore = torch::zeros({n}, torch::kBool);
  for (int64_t i = 0; i < n; ++i) out.ignore[i] = bool(ignore[size_t(i)]);
  if (!areas.empty()) out.areas = torch::tensor(areas, torch::kDouble).view({n}).clone();
  return out;
}

class CocoDataset final : public Dataset {
 public:
  explicit CocoDataset(const DatasetOptions& options) : root_(options.root) {
    const auto& file = options.annotations;
    const nlohmann::json json = read_json(file, "COCO annotation file", options.key("annotations"));
    if (!json.contains("images") || !json["images"].is_array()) MUST_THROW(Error, file.string(), ": no 'images' array");
    try {
      index(json, file);
    } catch (const nlohmann::json::exception& e) {  // a missing key or a value of the wrong type
      MUST_THROW(Error, file.string(), ": ", e.what(), " (in ", last_record_, ")");
    }
  }
  int64_t size() const override { return int64_t(images_.size()); }
  Sample get(int64_t index) const override {
    const Record& record = images_.at(size_t(index));
    Sample sample = encoded_sample(root_ / record.file);
    sample.instances = make_instances(record.boxes, record.labels, record.ignore, record.areas);
    return sample;
  }
  std::string source(int64_t index) const override { return (root_ / images_.at(size_t(index)).file).string(); }

 private:
  void index(const nlohmann::json& json, const std::filesystem::path& file) {
    // Categories, sorted by id, become the contiguous 0-based classes.
    last_record_ = "categories";
    std::map<int64_t, std::string> categories;
    if (json.contains("categories")) {
      for (const auto& c : json["categories"]) categories[c.at("id").get<int64_t>()] = c.value("name", "");
    } else {
      for (const auto& a : json.value("annotations", nlohmann::json::array())) {
        categories[a.at("category_id").get<int64_t>()] = std::to_string(a.at("category_id").get<int64_t>());
      }
    }
    std::map<int64_t, int64_t> class_of;
    for (const auto& [id, name] : categories) {
      class_of[id] = int64_t(class_of.size());
      info_.class_names[Task::kDetection].push_back(name);
      info_.category_ids.push_back(id);
    }
    info_.name = "coco:" + file.string();
    info_.tasks = {Task::kDetection};
    std::map<int64_t, size_t> image_index;
    last_record_ = "images";
    for (const auto& image : json["images"]) {
      const int64_t id = image.at("id").get<int64_t>();
      if (!image_index.emplace(id, images_.size()).second) MUST_THROW(Error, file.string(), ": image id ", id, " is listed twice");
      images_.push_back({image.at("file_name").get<std::string>(), {}, {}, {}, {}});
      info_.image_ids.push_back(id);
    }
    for (const auto& a : json.value("annotations", nlohmann::json::array())) {
      const int64_t id = a.value("id", int64_t(-1));
      last_record_ = "annotation " + std::to_string(id);
      auto where = [&] { return file.string() + ": annotation " + std::to_string(id); };
      const auto image = image_index.find(a.at("image_id").get<int64_t>());
      if (image == image_index.end()) MUST_THROW(Error, where(), " refers to image_id ", a.at("image_id"), ", which is not listed");
      const auto category = class_of.find(a.at("category_id").get<int64_t>());
      if (category == class_of.end()) MUST_THROW(Error, where(), " has category_id ", a.at("category_id"), ", which is not listed");
      const auto& bbox = a.at("bbox");
      if (!bbox.is_array() || bbox.size() != 4) MUST_THROW(Error, where(), ": bbox must be [x, y, width, height]");
      const double x = bbox[0], y = bbox[1], w = bbox[2], h = bbox[3];
      if (w < 0 || h < 0) MUST_THROW(Error, where(), " has a box of negative ", w < 0 ? "width" : "height", " (bbox [", x, ", ", y, ", ", w, ", ", h, "])");
      if (w == 0 || h == 0) continue;  // degenerate: covers no pixel
      Record& record = images_[image->second];
      record.boxes.insert(record.boxes.end(), {float(x), float(y), float(x + w), float(y + h)});
      record.labels.push_back(category->second);
      record.ignore.push_back(a.value("iscrowd", 0) != 0);
      record.areas.push_back(a.contains("area") ? a["area"].get<double>() : w * h);  // COCO: the mask's area
    }
  }

  struct Record {
    std::string file;
    std::vector<float> boxes;
    std::vector<int64_t> labels;
    std::vector<bool> ignore;
    std::vector<double> areas;
  };
  std::filesystem::path root_;
  std::vector<Record> images_;
  std::string last_record_;  // for errors
};

const std::vector<std::string> kVocClasses = {
    "aeroplane", "bicycle", "bird",  "boat",      "bottle", "bus",         "car",   "cat",  "chair", "cow",
    "diningtable", "dog",   "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"};

// VOC annotation XML: 1-based inclusive integer corners become pixel-edge boxes (x1 - 1, y1 - 1, x2, y2).
structures::Instances read_voc_xml(const std::filesystem::path& path, const std::vector<std::string>& classes) {
  require_exists(path, "VOC annotation");
  tinyxml2::XMLDocument document;
  if (document.LoadFile(path.c_str()) != tinyxml2::XML_SUCCESS) {
    MUST_THROW(Error, path.string(), ": malformed XML (", document.ErrorStr(), ")");
  }
  const tinyxml2::XMLElement* annotation = document.FirstChildElement("annotation");
  if (!annotation) MUST_THROW(Error, path.string(), ": no <annotation> element");
  std::vector<float> boxes;
  std::vector<int64_t> labels;
  std::vector<bool> ignore;
  int object_index = 0;
  for (const auto* object = annotation->FirstChildElement("object"); object;
       object = object->NextSiblingElement("object"), ++object_index) {
    auto where = [&] { return path.string() + ": object " + std::to_string(object_index); };
    const auto* name = object->FirstChildElement("name");
    if (!name || !name->GetText()) MUST_THROW(Error, where(), " has no <name>");
    const auto found = std::find(classes.begin(), classes.end(), std::string(name->GetText()));
    if (found == classes.end()) MUST_THROW(Error, where(), " has unknown class '", name->GetText(), "'");
    const auto* box = object->FirstChildElement("bndbox");
    if (!box) MUST_THROW(Error, where(), " ('", name->GetText(), "') has no <bndbox>");
    float corner[4];
    const char* keys[4] = {"xmin", "ymin", "xmax", "ymax"};
    for (int k = 0; k < 4; ++k) {
      const auto* element = box->FirstChildElement(keys[k]);
      if (!element || element->QueryFloatText(&corner[k]) != tinyxml2::XML_SUCCESS) {
        MUST_THROW(Error, where(), ": <bndbox> lacks a numeric <", keys[k], ">");
      }
    }
    if (corner[2] < corner[0] || corner[3] < corner[1]) {
      MUST_THROW(Error, where(), ": <bndbox> has xmax < xmin or ymax < ymin");
    }
    boxes.insert(boxes.end(), {corner[0] - 1, corner[1] - 1, corner[2], corner[3]});
    labels.push_back(int64_t(found - classes.begin()));
    const auto* difficult = object->FirstChildElement("difficult");
    ignore.push_back(difficult && difficult->IntText(0) != 0);
  }
  return make_instances(boxes, labels, ignore);
}

class VocDetectionDataset final : public Dataset {
 public:
  explicit VocDetectionDataset(const DatasetOptions& options) : root_(options.root) {
    const std::string split = options.split.empty() ? "trainval" : options.split;
    ids_ = read_lines(root_ / "ImageSets" / "Main" / (split + ".txt"));
    classes_ = options.class_names.empty() ? kVocClasses : options.class_names;
    info_.name = "voc_detection:" + root_.string() + ":" + split;
    info_.tasks = {Task::kDetection};
    info_.class_names[Task::kDetection] = classes_;
  }
  int64_t size() const override { return int64_t(ids_.size()); }
  Sample get(int64_t index) const override {
    const std::string& id = ids_.at(size_t(index));
    Sample sample = encoded_sample(root_ / "JPEGImages" / (id + ".jpg"));
    sample.instances = read_voc_xml(root_ / "Annotations" / (id + ".xml"), classes_);
    return sample;
  }

 private:
  std::filesystem::path root_;
  std::vector<std::string> ids_, classes_;
};

}  // namespace

std::shared_ptr<Dataset> coco(const DatasetOptions& options) { return std::make_shared<CocoDataset>(options); }
std::shared_ptr<Dataset> voc_detection(const DatasetOptions& options) {
  return std::make_shared<VocDetectionDataset>(options);
}

}  // namespace must::data::readers
