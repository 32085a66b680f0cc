// Per-pixel datasets: VOC / ADE20K / Cityscapes segmentation, NYU Depth v2 (HDF5 .mat and PNG export), DIODE.
#include <hdf5.h>
#include <torch/torch.h>

#include <mutex>

#include "must/core/check.h"
#include "must/core/strings.h"
#include "must/data/cityscapes_labels.h"
#include "must/data/decode.h"
#include "must/io/npy.h"
#include "readers.h"

namespace must::data::readers {
namespace {

// An image and its class-map PNG, mapped through a lookup table.
struct SegmentationPair {
  std::filesystem::path image, label;
};

class SegmentationDataset final : public Dataset {
 public:
  SegmentationDataset(std::string name, std::vector<SegmentationPair> pairs, std::vector<int64_t> lut,
                      std::vector<std::string> classes)
      : pairs_(std::move(pairs)), lut_(std::move(lut)) {
    info_.name = std::move(name);
    info_.tasks = {Task::kSegmentation};
    info_.class_names[Task::kSegmentation] = std::move(classes);
  }
  int64_t size() const override { return int64_t(pairs_.size()); }
  std::string source(int64_t index) const override { return pairs_.at(size_t(index)).image.string(); }
  Sample get(int64_t index) const override {
    const SegmentationPair& pair = pairs_.at(size_t(index));
    Sample sample = encoded_sample(pair.image);
    require_exists(pair.label, "label map");
    const torch::Tensor samples = read_png_samples(pair.label);
    sample.labels[Task::kSegmentation] = remap_classes(samples, lut_, pair.label.string());
    const auto size = sample.image_size();
    if (samples.size(0) != size[0] || samples.size(1) != size[1]) {
      MUST_THROW(Error, pair.label.string(), ": label map is ", samples.size(1), "x", samples.size(0), " but image ",
                 pair.image.string(), " is ", size[1], "x", size[0]);
    }
    return sample;
  }

 private:
  std::vector<SegmentationPair> pairs_;
  std::vector<int64_t> lut_;
};

std::vector<int64_t> identity_lut() {
  std::vector<int64_t> lut(256);
  for (int i = 0; i < 256; ++i) lut[size_t(i)] = i;
  return lut;
}

std::vector<std::string> numbered(int64_t count) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(std::to_string(i));
  return out;
}

// HDF5's serial build is not thread-safe: every call goes through this lock.
std::mutex& hdf5_mutex() {
  static std::mutex mutex;
  return mutex;
}

// An HDF5 identifier closed by its own close function when it goes out of scope (negative = failed to open).
class Hdf5Handle {
 public:
  Hdf5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hdf5Handle() {
    if (id_ >= 0) close_(id_);
  }
  Hdf5Handle(const Hdf5Handle&) = delete;
  Hdf5Handle& operator=(const Hdf5Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// NYU Depth v2 labeled .mat (MATLAB 7.3 = HDF5, dims reversed): images uint8 (N, 3, W, H), depths float (N, W, H).
class NyuLabeledDataset final : public Dataset {
 public:
  explicit NyuLabeledDataset(const DatasetOptions& options) : file_(options.annotations) {
    require_exists(file_, "NYU .mat file", options.key("annotations"));
    std::vector<int64_t> image_dims, depth_dims;
    {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by us, with the file named
      const Hdf5Handle file(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
      if (!file.valid()) MUST_THROW(Error, file_.string(), ": not an HDF5 file (MATLAB 7.3 .mat)");
      image_dims = dims(file, "images");
      depth_dims = dims(file, "depths");
    }
    if (image_dims.size() != 4 || image_dims[1] != 3) {
      MUST_THROW(Error, file_.string(), ": dataset 'images' should be (N, 3, W, H)");
    }
    if (depth_dims.size() != 3 || depth_dims[0] != image_dims[0] || depth_dims[1] != image_dims[2] ||
        depth_dims[2] != image_dims[3]) {
      MUST_THROW(Error, file_.string(), ": dataset 'depths' should be (N, W, H) matching 'images'");
    }
    count_ = image_dims[0], width_ = image_dims[2], height_ = image_dims[3];
    if (options.split.empty() || options.split == "all") {
      for (int64_t i = 0; i < count_; ++i) indices_.push_back(i);
    } else {  // a file of 1-based indices, as splits.mat's trainNdxs / testNdxs
      const auto lines = read_lines(options.split);
      for (size_t i = 0; i < lines.size(); ++i) {
        const int64_t one_based = std::stoll(lines[i]);
        if (one_based < 1 || one_based > count_) {
          MUST_THROW(Error, options.split, ":", i + 1, ": index ", one_based, " outside 1..", count_);
        }
        indices_.push_back(one_based - 1);
      }
    }
    info_.name = "nyu_labeled:" + file_.string();
    info_.tasks = {Task::kDepth};
  }
  int64_t size() const override { return int64_t(indices_.size()); }
  Sample get(int64_t index) const override {
    const int64_t record = indices_.at(size_t(index));
    Sample sample;
    sample.source = file_.string() + " image " + std::to_string(record + 1);
    torch::Tensor image = torch::empty({3, width_, height_}, torch::kUInt8);
    torch::Tensor depth = torch::empty({width_, height_}, torch::kFloat);
    {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      const Hdf5Handle file(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
      if (!file.valid()) MUST_THROW(Error, file_.string(), ": cannot open");
      read_slab(file, "images", record, {1, 3, hsize_t(width_), hsize_t(height_)}, H5T_NATIVE_UINT8, image.data_ptr());
      read_slab(file, "depths", record, {1, hsize_t(width_), hsize_t(height_)}, H5T_NATIVE_FLOAT, depth.data_ptr());
    }
    sample.image = image.permute({2, 1, 0}).contiguous();  // (3, W, H) -> (H, W, 3)
    sample.labels[Task::kDepth] = depth.t().contiguous().unsqueeze(0);
    return sample;
  }

 private:
  std::vector<int64_t> dims(const Hdf5Handle& file, const char* name) const {
    const Hdf5Handle dataset(H5Dopen2(file.get(), name, H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) MUST_THROW(Error, file_.string(), ": HDF5 file has no dataset '", name, "'");
    const Hdf5Handle space(H5Dget_space(dataset.get()), H5Sclose);
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (rank < 0) MUST_THROW(Error, file_.string(), ": cannot read the shape of dataset '", name, "'");
    std::vector<hsize_t> out(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), out.data(), nullptr);
    return std::vector<int64_t>(out.begin(), out.end());
  }
  void read_slab(const Hdf5Handle& file, const char* name, int64_t record, std::vector<hsize_t> count, hid_t type,
                 void* out) const {
    const Hdf5Handle dataset(H5Dopen2(file.get(), name, H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) MUST_THROW(Error, file_.string(), ": HDF5 file has no dataset '", name, "'");
    const Hdf5Handle space(H5Dget_space(dataset.get()), H5Sclose);
    std::vector<hsize_t> start(count.size(), 0);
    start[0] = hsize_t(record);
    const Hdf5Handle memory(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose);
    const bool ok = space.valid() && memory.valid() &&
                    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) >= 0 &&
                    H5Dread(dataset.get(), type, memory.get(), space.get(), H5P_DEFAULT, out) >= 0;
    if (!ok) MUST_THROW(Error, file_.string(), ": cannot read '", name, "' record ", record + 1);
  }

  std::filesystem::path file_;
  int64_t count_ = 0, width_ = 0, height_ = 0;
  std::vector<int64_t> indices_;
};

// RGB + 16-bit depth PNG pairs (depth / scale metres, 0 invalid).
class DepthPngDataset final : public Dataset {
 public:
  explicit DepthPngDataset(const DatasetOptions& options) : scale_(options.depth_scale) {
    const auto list = options.root / ((options.split.empty() ? "train" : options.split) + ".txt");
    require_exists(list, "NYU list");
    const auto lines = read_lines(list);
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto fields = split(lines[i], ' ');
      if (fields.size() < 2) MUST_THROW(Error, list.string(), ":", i + 1, ": expected '<rgb> <depth png>', got '", lines[i], "'");
      pairs_.push_back({options.root / fields[0], options.root / fields[1]});
    }
    MUST_CHECK(scale_ > 0, "depth_scale must be positive");
    info_.name = "nyu_png:" + list.string();
    info_.tasks = {Task::kDepth};
  }
  int64_t size() const override { return int64_t(pairs_.size()); }
  Sample get(int64_t index) const override {
    const auto& [image, depth_file] = pairs_.at(size_t(index));
    Sample sample = encoded_sample(image);
    require_exists(depth_file, "depth map");
    const torch::Tensor stored = read_png_samples(depth_file);
    if (stored.dim() != 2 || stored.scalar_type() != torch::kInt32) {
      MUST_THROW(Error, depth_file.string(), ": expected a 16-bit single-channel depth PNG");
    }
    sample.labels[Task::kDepth] = (stored.to(torch::kFloat) / scale_).unsqueeze(0);
    return sample;
  }

 private:
  double scale_;
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> pairs_;
};

// DIODE: <id>.png with <id>_depth.npy (H, W, 1), <id>_depth_mask.npy (H, W), <id>_normal.npy (H, W, 3).
class DiodeDataset final : public Dataset {
 public:
  explicit DiodeDataset(const DatasetOptions& options) {
    const auto root = options.root / (options.split.empty() ? "val" : options.split);
    for (auto& file : image_files(root, /*recursive=*/true)) {
      if (file.extension() == ".png") images_.push_back(std::move(file));
    }
    MUST_CHECK(!images_.empty(), root.string(), ": no DIODE images (<scene type>/scene_*/scan_*/*.png)");
    info_.name = "diode:" + root.string();
    info_.tasks = {Task::kDepth, Task::kNormals};
  }
  int64_t size() const override { return int64_t(images_.size()); }
  Sample get(int64_t index) const override {
    const auto& image = images_.at(size_t(index));
    Sample sample = encoded_sample(image);
    const std::string stem = (image.parent_path() / image.stem()).string();
    const auto size = sample.image_size();
    auto check_shape = [&](const torch::Tensor& t, int64_t channels, const std::string& file, bool channel_axis) {
      const bool ok = channel_axis ? (t.dim() == 3 && t.size(2) == channels) : t.dim() == 2;
      if (!ok || t.size(0) != size[0] || t.size(1) != size[1]) {
        MUST_THROW(Error, file, ": shape ", t.sizes(), " does not fit the ", size[0], "x", size[1], " image");
      }
    };
    const std::string depth_file = stem + "_depth.npy", mask_file = stem + "_depth_mask.npy";
    if (std::filesystem::exists(depth_file)) {
      torch::Tensor depth = io::read_npy(depth_file).to(torch::kFloat);
      if (depth.dim() == 2) depth = depth.unsqueeze(2);
      check_shape(depth, 1, depth_file, true);
      torch::Tensor valid = depth > 0;
      if (std::filesystem::exists(mask_file)) {
        const torch::Tensor mask = io::read_npy(mask_file);
        check_shape(mask, 1, mask_file, false);
        valid = valid & (mask.unsqueeze(2) != 0);
      }
      sample.labels[Task::kDepth] = (depth * valid).permute({2, 0, 1}).contiguous();
    }
    const std::string normal_file = stem + "_normal.npy";
    if (std::filesystem::exists(normal_file)) {
      const torch::Tensor normals = io::read_npy(normal_file).to(torch::kFloat);
      check_shape(normals, 3, normal_file, true);
      sample.labels[Task::kNormals] = normals.permute({2, 0, 1}).contiguous();
    }
    return sample;
  }

 private:
  std::vector<std::filesystem::path> images_;
};

}  // namespace

std::shared_ptr<Dataset> voc_segmentation(const DatasetOptions& options) {
  const std::string split = options.split.empty() ? "train" : options.split;
  const std::filesystem::path labels =
      options.annotations.empty() ? options.root / "SegmentationClass" : options.annotations;
  std::vector<SegmentationPair> pairs;
  for (const auto& id : read_lines(options.root / "ImageSets" / "Segmentation" / (split + ".txt"))) {
    pairs.push_back({options.root / "JPEGImages" / (id + ".jpg"), labels / (id + ".png")});
  }
  std::vector<std::string> classes = {"background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
                                      "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
                                      "pottedplant", "sheep", "sofa", "train", "tvmonitor"};
  return std::make_shared<SegmentationDataset>("voc_segmentation:" + split, std::move(pairs), identity_lut(), classes);
}

std::shared_ptr<Dataset> ade20k(const DatasetOptions& options) {
  const std::string split = options.split.empty() ? "training" : options.split;
  std::vector<SegmentationPair> pairs;
  for (const auto& image : image_files(options.root / "images" / split)) {
    pairs.push_back({image, options.root / "annotations" / split / (image.stem().string() + ".png")});
  }
  std::vector<int64_t> lut(256, 255);  // 0 = "other": ignored; 1..150 -> 0..149
  for (int k = 1; k <= 150; ++k) lut[size_t(k)] = k - 1;
  return std::make_shared<SegmentationDataset>("ade20k:" + split, std::move(pairs), lut, numbered(150));
}

std::shared_ptr<Dataset> cityscapes(const DatasetOptions& options) {
  const std::string split = options.split.empty() ? "train" : options.split;
  const auto image_root = options.root / "leftImg8bit" / split;
  std::vector<SegmentationPair> pairs;
  const std::string suffix = "_leftImg8bit.png";
  for (const auto& image : image_files(image_root, /*recursive=*/true)) {
    const std::string name = image.filename().string();
    if (!ends_with(name, suffix)) continue;
    const std::string stem = name.substr(0, name.size() - suffix.size());
    const auto city = image.parent_path().filename();
    pairs.push_back({image, options.root / "gtFine" / split / city / (stem + "_gtFine_labelIds.png")});
  }
  // labelId -> trainId; everything else is ignored.
  std::vector<int64_t> lut(256, 255);
  for (size_t train_id = 0; train_id < kCityscapesLabelIdOfTrainId.size(); ++train_id) {
    lut[size_t(kCityscapesLabelIdOfTrainId[train_id])] = int64_t(train_id);
  }
  const std::vector<std::string> classes = {"road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                                            "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
                                            "truck", "bus", "train", "motorcycle", "bicycle"};
  return std::make_shared<SegmentationDataset>("cityscapes:" + split, std::move(pairs), lut, classes);
}

std::shared_ptr<Dataset> nyu_labeled(const DatasetOptions& options) { return std::make_shared<NyuLabeledDataset>(options); }
std::shared_ptr<Dataset> nyu_png(const DatasetOptions& options) { return std::make_shared<DepthPngDataset>(options); }
std::shared_ptr<Dataset> diode(const DatasetOptions& options) { return std::make_shared<DiodeDataset>(options); }

}  // namespace must::data::readers
