// A pseudo-label store as a dataset (data::Dataset) for the student: sample i is the store's i-th image (keys in
// input order), with every task of the store as a label in the data::Sample layouts, so the loader's transforms
// and collate apply as to any labelled dataset.
//
// The image: the store's own copy when it packs images (store.pack_images), else the input dataset's sample of the
// record's input index (the same reader and split the store was made from; its labels are dropped). Dense labels
// stored at another size than the image (store.dense_size) are resized to the image as read, with the task
// table's rule (nearest for class maps; linear over valid pixels for depth and normals), so that the joint
// transforms see labels and image pixel for pixel.
#pragma once

#include <filesystem>
#include <memory>

#include "must/data/dataset.h"
#include "must/labels/store.h"

namespace must::labels {

class StoreDataset final : public data::Dataset {
 public:
  // Throws must::Error naming the store when it is not a finished store, or when it packs no images and no
  // `images` dataset is given.
  StoreDataset(const std::filesystem::path& store, std::shared_ptr<const data::Dataset> images = nullptr);
  int64_t size() const override { return int64_t(reader_.keys().size()); }
  data::Sample get(int64_t index) const override;
  const StoreReader& reader() const { return reader_; }

 private:
  StoreReader reader_;
  std::shared_ptr<const data::Dataset> images_;
};

}  // namespace must::labels
