#include "must/labels/label_codec.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <functional>
#include <map>

#include "must/core/check.h"
#include "must/data/decode.h"
#include "must/data/image_io.h"
#include "must/io/npy.h"

namespace must::labels {
namespace {

struct Codec {
  std::function<std::string(const data::Sample&, Task)> encode;
  std::function<void(const std::string&, const std::string&, Task, data::Sample&)> decode;
};

const torch::Tensor& label_of(const data::Sample& sample, Task task) {
  const auto found = sample.labels.find(task);
  MUST_CHECK(found != sample.labels.end() && found->second.defined(), sample.source, ": no ", task_name(task),
             " label to store");
  return found->second;
}

std::string encode_float16_npy(const data::Sample& sample, Task task) {
  torch::Tensor values = label_of(sample, task);
  if (task_spec(task).target == TargetKind::kFloatMap) values = values.squeeze(0);  // [1, H, W] -> [H, W]
  return io::encode_npy(values.to(torch::kHalf).contiguous());
}

void decode_float16_npy(const std::string& bytes, const std::string& source, Task task, data::Sample& sample) {
  torch::Tensor values = io::decode_npy(bytes, source).to(torch::kFloat);
  if (task_spec(task).target == TargetKind::kFloatMap) {
    MUST_CHECK(values.dim() == 2, source, ": a ", task_name(task), " map must be [H, W], got ", values.sizes());
    values = values.unsqueeze(0);
  } else {
    MUST_CHECK(values.dim() == 1, source, ": a class vector must be [C], got ", values.sizes());
  }
  sample.labels[task] = values;
}

std::string encode_boxes(const data::Sample& sample, Task) {
  MUST_CHECK(sample.instances.has_value(), sample.source, ": no detection label to store");
  const structures::Instances& instances = *sample.instances;
  nlohmann::json out = {{"boxes", nlohmann::json::array()}, {"labels", nlohmann::json::array()},
                        {"scores", nlohmann::json::array()}};
  const int64_t n = instances.size();
  if (n > 0) {
    const torch::Tensor boxes = instances.boxes.to(torch::kDouble).contiguous();
    const torch::Tensor labels = instances.labels.to(torch::kLong).contiguous();
    const auto* b = boxes.data_ptr<double>();
    const auto* l = labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      out["boxes"].push_back({b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]});
      out["labels"].push_back(l[i]);
    }
    if (instances.scores.defined()) {
      const torch::Tensor scores = instances.scores.to(torch::kDouble).contiguous();
      for (int64_t i = 0; i < n; ++i) out["scores"].push_back(scores.data_ptr<double>()[i]);
    }
  }
  return out.dump();
}

void decode_boxes(const std::string& bytes, const std::string& source, Task, data::Sample& sample) {
  structures::Instances instances;
  try {
    const nlohmann::json in = nlohmann::json::parse(bytes);
    const auto& boxes = in.at("boxes");
    const auto& labels = in.at("labels");
    const auto& scores = in.at("scores");
    const int64_t n = int64_t(boxes.size());
    MUST_CHECK(int64_t(labels.size()) == n && (scores.empty() || int64_t(scores.size()) == n),
               "boxes, labels and scores differ in length");
    instances.boxes = torch::empty({n, 4}, torch::kFloat);
    instances.labels = torch::empty({n}, torch::kLong);
    for (int64_t i = 0; i < n; ++i) {
      MUST_CHECK(boxes[size_t(i)].size() == 4, "box ", i, " does not have 4 coordinates");
      for (int64_t c = 0; c < 4; ++c) instances.boxes[i][c] = boxes[size_t(i)][size_t(c)].get<double>();
      instances.labels[i] = labels[size_t(i)].get<int64_t>();
    }
    if (!scores.empty()) {
      instances.scores = torch::empty({n}, torch::kFloat);
      for (int64_t i = 0; i < n; ++i) instances.scores[i] = scores[size_t(i)].get<double>();
    }
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, source, ": not a detection label (", e.what(), ")");
  } catch (const Error& e) {
    MUST_THROW(Error, source, ": ", e.what());
  }
  sample.instances = std::move(instances);
}

std::string encode_class_map(const data::Sample& sample, Task task) {
  const torch::Tensor map = label_of(sample, task);
  MUST_CHECK(map.dim() == 2, sample.source, ": a class map must be [H, W], got ", map.sizes());
  const int64_t ignore = int64_t(task_spec(task).ignore_value);
  const torch::Tensor labelled = map.masked_select(map != ignore);
  MUST_CHECK(labelled.numel() == 0 || (labelled.max().item<int64_t>() < 255 && labelled.min().item<int64_t>() >= 0),
             sample.source, ": class indices must lie in 0..254 to be stored in an 8-bit PNG");
  const torch::Tensor pixels = map.masked_fill(map == ignore, 255).to(torch::kUInt8).contiguous();
  return data::encode_png(pixels.data_ptr(), int(map.size(0)), int(map.size(1)), 1, 8);
}

void decode_class_map(const std::string& bytes, const std::string& source, Task task, data::Sample& sample) {
  const torch::Tensor stored = data::decode_png_samples(bytes, source);
  MUST_CHECK(stored.dim() == 2 && stored.scalar_type() == torch::kUInt8, source, ": a class map must be 8-bit gray");
  sample.labels[task] = stored.to(torch::kLong).masked_fill(stored == 255, int64_t(task_spec(task).ignore_value));
}

// [3, H, W] <-> [H, W, 3], the layout of image files, as a Python user expects it.
std::string encode_unit_vectors(const data::Sample& sample, Task task) {
  const torch::Tensor n = label_of(sample, task);
  MUST_CHECK(n.dim() == 3 && n.size(0) == 3, sample.source, ": unit vectors must be [3, H, W], got ", n.sizes());
  return io::encode_npy(n.permute({1, 2, 0}).to(torch::kHalf).contiguous());
}

void decode_unit_vectors(const std::string& bytes, const std::string& source, Task task, data::Sample& sample) {
  const torch::Tensor stored = io::decode_npy(bytes, source);
  MUST_CHECK(stored.dim() == 3 && stored.size(2) == 3, source, ": unit vectors must be [H, W, 3], got ", stored.sizes());
  sample.labels[task] = stored.to(torch::kFloat).permute({2, 0, 1}).contiguous();
}

const Codec& codec(Task task) {
  static const std::map<TargetKind, Codec> codecs = {
      {TargetKind::kClassVector, {encode_float16_npy, decode_float16_npy}},
      {TargetKind::kBoxes, {encode_boxes, decode_boxes}},
      {TargetKind::kClassMap, {encode_class_map, decode_class_map}},
      {TargetKind::kFloatMap, {encode_float16_npy, decode_float16_npy}},
      {TargetKind::kUnitVectorMap, {encode_unit_vectors, decode_unit_vectors}},
  };
  return codecs.at(task_spec(task).target);
}

}  // namespace

std::string member_name(const std::string& key, Task task) { return key + "." + std::string(task_spec(task).store_suffix); }

std::string encode_label(Task task, const data::Sample& sample) { return codec(task).encode(sample, task); }

void decode_label(Task task, const std::string& bytes, const std::string& source, data::Sample& sample) {
  codec(task).decode(bytes, source, task, sample);
}

}  // namespace must::labels
