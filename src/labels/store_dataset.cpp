#include "must/labels/store_dataset.h"

#include <torch/torch.h>

#include "must/core/check.h"
#include "must/data/transforms.h"

namespace must::labels {

StoreDataset::StoreDataset(const std::filesystem::path& store, std::shared_ptr<const data::Dataset> images)
    : reader_(store), images_(std::move(images)) {
  info_.name = "store " + store.string();
  info_.tasks = reader_.tasks();
  const bool packed = reader_.manifest().value("policy", nlohmann::json::object()).value("pack_images", false);
  MUST_CHECK(packed || images_, store.string(), " does not pack its images: give the dataset it was made from");
}

data::Sample StoreDataset::get(int64_t index) const {
  MUST_CHECK(index >= 0 && index < size(), "store sample ", index, " outside [0, ", size(), ")");
  const std::string& key = reader_.keys()[size_t(index)];
  data::Sample sample = reader_.get(key);
  const nlohmann::json record = reader_.record(key);
  if (sample.encoded.empty()) {
    data::Sample input = images_->get(record.at("index").get<int64_t>());
    sample.encoded = std::move(input.encoded);
    sample.image = std::move(input.image);  // readers of records give decoded images
  }
  const auto original = record.at("original_size").get<std::array<int64_t, 2>>();
  for (auto& [task, label] : sample.labels) {
    label = data::resize_label(label, task, original[0], original[1]);
  }
  return sample;
}

}  // namespace must::labels
