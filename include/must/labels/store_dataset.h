// A pseudo-label store as a dataset (data::Dataset) for the student: sample i is the store's i-th image (keys in
// input order), with every task of the store as a label in the data::Sample layouts, so the loader's transforms
// and collate apply as to any labelled dataset.
//
// The image: the store's own copy when it packs images (store.pack_images), else the input dataset's sample of the
// record's input index (its labels are dropped): the dataset given, or else the one the manifest's input names
// (format, root, split). Either way it must list the same images in the same order as the store's input (count
// and list_sha256), or the store is refused. Dense labels
// stored at another size than the image (store.dense_size) are resized to the image as read, with the task
// table's rule (nearest for class maps; linear over valid pixels for depth and normals), so that the joint
// transforms see labels and image pixel for pixel.
//
// Real labels: when the store was made from a labelled dataset, that dataset's own labels of `real_tasks` are
// taken too, and win over the pseudo label of the same task and image (docs/architecture.md). `pseudo_tasks` limits the
// store's tasks that are used (empty: all). A task neither source gives a sample is absent from it (no loss).
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "must/data/dataset.h"
#include "must/labels/store.h"

namespace must::labels {

struct StoreDatasetOptions {
  std::vector<Task> pseudo_tasks;  // the store's tasks to use; empty: all
  std::vector<Task> real_tasks;    // the input dataset's own labels to use (they override pseudo labels)
};

class StoreDataset final : public data::Dataset {
 public:
  // Throws must::Error naming the store when it is not a finished store, when its images cannot be found (not
  // packed, and the input dataset neither given nor opening) or are not the store's input, or when a task asked
  // for is not in the store / the input dataset.
  StoreDataset(const std::filesystem::path& store, std::shared_ptr<const data::Dataset> images = nullptr,
               StoreDatasetOptions options = {});
  int64_t size() const override { return int64_t(reader_.keys().size()); }
  data::Sample get(int64_t index) const override;
  const StoreReader& reader() const { return reader_; }

 private:
  StoreReader reader_;
  std::shared_ptr<const data::Dataset> images_;
  StoreDatasetOptions options_;
};

}  // namespace must::labels
