// Image-level datasets: folders and lists of images, IDX (MNIST / Fashion-MNIST), CIFAR binary.
#include <torch/torch.h>
#include <zlib.h>

#include <cstring>
#include <fstream>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/strings.h"
#include "must/data/decode.h"
#include "readers.h"

namespace must::data::readers {
namespace {

// Images with one class each (or none), decoded lazily.
class FileListDataset final : public Dataset {
 public:
  FileListDataset(std::string name, std::vector<std::filesystem::path> files, std::vector<int64_t> labels,
                  std::vector<std::string> classes)
      : files_(std::move(files)), labels_(std::move(labels)) {
    info_.name = std::move(name);
    if (!classes.empty()) {
      info_.tasks = {Task::kClassification};
      info_.class_names[Task::kClassification] = std::move(classes);
    }
  }
  int64_t size() const override { return int64_t(files_.size()); }
  Sample get(int64_t index) const override {
    Sample sample = encoded_sample(files_.at(size_t(index)));
    if (!labels_.empty()) {
      sample.labels[Task::kClassification] =
          one_hot(labels_[size_t(index)], int64_t(info_.class_names.at(Task::kClassification).size()));
    }
    return sample;
  }
  std::string source(int64_t index) const override { return files_.at(size_t(index)).string(); }

 private:
  std::vector<std::filesystem::path> files_;
  std::vector<int64_t> labels_;
};

// Decoded images held in memory (IDX, CIFAR): uint8 [N, H, W, 3] and one label each.
class InMemoryDataset final : public Dataset {
 public:
  InMemoryDataset(std::string name, std::string source, torch::Tensor images, std::vector<int64_t> labels,
                  std::vector<std::string> classes)
      : source_(std::move(source)), images_(std::move(images)), labels_(std::move(labels)) {
    info_.name = std::move(name);
    info_.tasks = {Task::kClassification};
    info_.class_names[Task::kClassification] = std::move(classes);
  }
  int64_t size() const override { return images_.size(0); }
  Sample get(int64_t index) const override {
    Sample sample;
    sample.source = source_ + " record " + std::to_string(index);
    sample.image = images_[index].clone();
    sample.labels[Task::kClassification] =
        one_hot(labels_.at(size_t(index)), int64_t(info_.class_names.at(Task::kClassification).size()));
    return sample;
  }

 private:
  std::string source_;
  torch::Tensor images_;
  std::vector<int64_t> labels_;
};

std::vector<std::string> numbered_classes(int64_t count) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(std::to_string(i));
  return out;
}

// Reads a whole file, gzip-compressed or not (zlib reads plain files through as they are).
std::string read_maybe_gzip(const std::filesystem::path& path) {
  require_exists(path, "file");
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) MUST_THROW(Error, path.string(), ": cannot open");
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof(buffer))) > 0) out.append(buffer, size_t(n));
  int code = 0;
  const char* message = gzerror(file, &code);
  const std::string error = code < 0 ? message : "";
  gzclose(file);
  if (n < 0 || !error.empty()) MUST_THROW(Error, path.string(), ": read failed (", error, ")");
  return out;
}

uint32_t big_endian(const std::string& bytes, size_t at) {
  return uint32_t(uint8_t(bytes[at])) << 24 | uint32_t(uint8_t(bytes[at + 1])) << 16 |
         uint32_t(uint8_t(bytes[at + 2])) << 8 | uint32_t(uint8_t(bytes[at + 3]));
}

std::filesystem::path plain_or_gzip(const std::filesystem::path& base) {
  if (std::filesystem::exists(base)) return base;
  std::filesystem::path gz = base;
  gz += ".gz";
  if (std::filesystem::exists(gz)) return gz;
  MUST_THROW(Error, "IDX file ", base.string(), " (or .gz) does not exist");
}

// CIFAR binary records: `label_bytes` label bytes (the last one is the label used), then 3072 planar RGB bytes.
void read_cifar_file(const std::filesystem::path& path, int label_bytes, std::vector<torch::Tensor>& images,
                     std::vector<int64_t>& labels) {
  const std::string bytes = read_file(path);
  const size_t record = size_t(label_bytes) + 3072;
  if (bytes.size() % record != 0) {
    MUST_THROW(Error, path.string(), ": truncated CIFAR record ", bytes.size() / record, " (", bytes.size() % record,
               " of ", record, " bytes; the file should hold whole ", record, "-byte records)");
  }
  const int64_t n = int64_t(bytes.size() / record);
  torch::Tensor planar = torch::empty({n, 3, 32, 32}, torch::kUInt8);
  auto* out = planar.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(uint8_t(bytes[size_t(i) * record + size_t(label_bytes) - 1]));
    std::memcpy(out + i * 3072, bytes.data() + size_t(i) * record + size_t(label_bytes), 3072);
  }
  images.push_back(planar.permute({0, 2, 3, 1}).contiguous());
}

std::vector<std::string> names_file_or_numbers(const std::filesystem::path& path, int64_t count) {
  if (!std::filesystem::exists(path)) return numbered_classes(count);
  std::vector<std::string> names = read_lines(path);
  MUST_CHECK(int64_t(names.size()) == count, path.string(), ": ", names.size(), " class names, expected ", count);
  return names;
}

std::shared_ptr<Dataset> cifar(const DatasetOptions& options, int label_bytes, int64_t classes,
                               std::vector<std::string> files, const std::string& names_file) {
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  for (const auto& file : files) {
    const auto path = options.root / file;
    require_exists(path, "CIFAR file");
    read_cifar_file(path, label_bytes, images, labels);
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes) MUST_THROW(Error, options.root.string(), ": record ", i, " has label ", labels[i], " >= ", classes);
  }
  return std::make_shared<InMemoryDataset>(options.format + ":" + options.split, (options.root / files[0]).string(),
                                           torch::cat(images), std::move(labels),
                                           names_file_or_numbers(options.root / names_file, classes));
}

}  // namespace

std::shared_ptr<Dataset> image_folder(const DatasetOptions& options) {
  require_exists(options.root, "image folder", options.key("root"));
  const auto root = options.split.empty() ? options.root : options.root / options.split;
  require_exists(root, "image folder");
  std::vector<std::string> classes;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (entry.is_directory()) classes.push_back(entry.path().filename().string());
  }
  std::sort(classes.begin(), classes.end());
  MUST_CHECK(!classes.empty(), root.string(), ": no class folders");
  std::vector<std::filesystem::path> files;
  std::vector<int64_t> labels;
  for (size_t c = 0; c < classes.size(); ++c) {
    for (auto& file : image_files(root / classes[c], /*recursive=*/true)) {
      files.push_back(std::move(file));
      labels.push_back(int64_t(c));
    }
  }
  return std::make_shared<FileListDataset>("image_folder:" + root.string(), std::move(files), std::move(labels), classes);
}

std::shared_ptr<Dataset> images(const DatasetOptions& options) {
  const auto root = options.split.empty() ? options.root : options.root / options.split;
  return std::make_shared<FileListDataset>("images:" + root.string(), image_files(root), std::vector<int64_t>{},
                                           std::vector<std::string>{});
}

std::shared_ptr<Dataset> image_list(const DatasetOptions& options) {
  require_exists(options.annotations, "image list", options.key("annotations"));
  MUST_CHECK(!options.class_names.empty(), options.annotations.string(), ": an image list needs class_names");
  std::vector<std::filesystem::path> files;
  std::vector<int64_t> labels;
  const auto lines = read_lines(options.annotations);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto fields = split(lines[i], ' ');
    int64_t label = -1;
    try {
      if (fields.size() == 2) label = std::stoll(fields[1]);
    } catch (const std::exception&) {
    }
    if (label < 0 || label >= int64_t(options.class_names.size())) {
      MUST_THROW(Error, options.annotations.string(), ":", i + 1, ": expected '<path> <class index in [0, ",
                 options.class_names.size(), ")>', got '", lines[i], "'");
    }
    files.push_back(options.root / fields[0]);
    labels.push_back(label);
  }
  return std::make_shared<FileListDataset>("image_list:" + options.annotations.string(), std::move(files),
                                           std::move(labels), options.class_names);
}

std::shared_ptr<Dataset> idx(const DatasetOptions& options) {
  const std::string split = options.split.empty() ? "train" : options.split;
  const auto images_path = plain_or_gzip(options.root / (split + "-images-idx3-ubyte"));
  const auto labels_path = plain_or_gzip(options.root / (split + "-labels-idx1-ubyte"));
  const std::string image_bytes = read_maybe_gzip(images_path), label_bytes = read_maybe_gzip(labels_path);
  if (image_bytes.size() < 16 || big_endian(image_bytes, 0) != 0x00000803) {
    MUST_THROW(Error, images_path.string(), ": not an IDX image file (magic 0x00000803, unsigned bytes, 3 dimensions)");
  }
  if (label_bytes.size() < 8 || big_endian(label_bytes, 0) != 0x00000801) {
    MUST_THROW(Error, labels_path.string(), ": not an IDX label file (magic 0x00000801)");
  }
  const int64_t n = big_endian(image_bytes, 4), h = big_endian(image_bytes, 8), w = big_endian(image_bytes, 12);
  if (int64_t(image_bytes.size()) - 16 < n * h * w) {
    MUST_THROW(Error, images_path.string(), ": truncated: header says ", n, " images of ", h, "x", w, " but the file holds ",
               (int64_t(image_bytes.size()) - 16) / std::max<int64_t>(1, h * w));
  }
  const int64_t label_count = big_endian(label_bytes, 4);
  if (label_count != n || int64_t(label_bytes.size()) - 8 < n) {
    MUST_THROW(Error, labels_path.string(), ": ", std::min<int64_t>(label_count, int64_t(label_bytes.size()) - 8),
               " labels for ", n, " images");
  }
  torch::Tensor gray = torch::empty({n, h, w, 1}, torch::kUInt8);
  std::memcpy(gray.data_ptr(), image_bytes.data() + 16, size_t(n * h * w));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  int64_t classes = 0;
  for (int64_t i = 0; i < n; ++i) {
    labels[size_t(i)] = uint8_t(label_bytes[size_t(8 + i)]);
    classes = std::max(classes, labels[size_t(i)] + 1);
  }
  return std::make_shared<InMemoryDataset>("idx:" + split, images_path.string(), gray.expand({n, h, w, 3}).contiguous(),
                                           std::move(labels), numbered_classes(std::max<int64_t>(classes, 10)));
}

std::shared_ptr<Dataset> cifar10(const DatasetOptions& options) {
  const std::string split = options.split.empty() ? "train" : options.split;
  std::vector<std::string> files;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else if (split == "test") {
    files = {"test_batch.bin"};
  } else {
    MUST_THROW(ConfigError, "cifar10 split '", split, "': train or test");
  }
  return cifar(options, 1, 10, files, "batches.meta.txt");
}

std::shared_ptr<Dataset> cifar100(const DatasetOptions& options) {
  const std::string split = options.split.empty() ? "train" : options.split;
  if (split != "train" && split != "test") MUST_THROW(ConfigError, "cifar100 split '", split, "': train or test");
  return cifar(options, 2, 100, {split + ".bin"}, "fine_label_names.txt");
}

}  // namespace must::data::readers
