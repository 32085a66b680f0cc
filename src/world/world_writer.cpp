#include "must/world/world_writer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/parallel.h"
#include "must/data/image_io.h"

namespace must::world {
namespace {

using nlohmann::ordered_json;

// Redraws of a scene whose objects all ended up hidden, before giving up.
constexpr int kMaxSceneAttempts = 32;

template <class T>
std::array<T, 2> range(const config::Config& config, const std::string& key) {
  const auto values = config.get_float_list(key);
  if (values.size() != 2 || values[0] > values[1]) config.fail(key, "expected a range [low, high] with low <= high");
  return {T(values[0]), T(values[1])};
}

SceneDistribution distribution_from_config(const config::Config& node) {
  SceneDistribution d;
  d.objects = range<int>(node, "objects");
  if (d.objects[0] < 0) node.fail("objects", "must not be negative");
  d.object_size = range<double>(node, "object_size");
  d.camera_height = range<double>(node, "camera_height");
  d.camera_pitch_deg = range<double>(node, "camera_pitch_deg");
  d.fov_deg = range<double>(node, "fov_deg");
  d.backdrop_distance = range<double>(node, "backdrop_distance");
  d.light_elevation_deg = range<double>(node, "light_elevation_deg");
  d.ambient = range<double>(node, "ambient");
  d.texture_frequency = range<double>(node, "texture_frequency");
  d.texture_contrast = range<double>(node, "texture_contrast");
  d.main_object_size = range<double>(node, "main_object_size");
  if (d.texture_contrast[0] < 0 || d.texture_contrast[1] > 1) node.fail("texture_contrast", "must lie in [0, 1]");
  if (d.main_object_size[0] < 0) node.fail("main_object_size", "sizes must be positive ([0, 0]: no main object)");
  if (d.object_size[0] <= 0) node.fail("object_size", "sizes must be positive");
  if (d.camera_height[0] <= 0) node.fail("camera_height", "the camera must be above the ground");
  if (d.camera_pitch_deg[0] < 0 || d.camera_pitch_deg[1] >= 90) node.fail("camera_pitch_deg", "must lie in [0, 90)");
  if (d.fov_deg[0] <= 0 || d.fov_deg[1] >= 170) node.fail("fov_deg", "must lie in (0, 170)");
  if (d.backdrop_distance[0] <= 2 * d.camera_height[1]) {
    node.fail("backdrop_distance", "must exceed twice the highest camera");
  }
  d.patterns.clear();
  for (const auto& name : node.get_string_list("textures")) {
    try {
      d.patterns.push_back(pattern_from_name(name));
    } catch (const ConfigError& e) {
      node.fail("textures", e.what());
    }
  }
  if (d.patterns.empty()) node.fail("textures", "needs at least one pattern");
  d.class_weights = node.get_float_list("class_weights");
  return d;
}

uint64_t split_seed(uint64_t seed, const std::string& split) { return mix_seed(seed, hash_name(split)); }

std::string image_stem(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%06lld", static_cast<long long>(index));
  return name;
}

// The per-image label folder of a task in the world's layout ("" = the labels live in one file per split).
std::string label_folder(Task task) {
  if (task == Task::kDetection) return "instances";  // boxes go to detection.json, the instance masks here
  return task_spec(task).target == TargetKind::kClassVector ? "" : std::string(task_name(task));
}

bool has_label(const SplitSpec& split, Task task) {
  return std::find(split.labels.begin(), split.labels.end(), task) != split.labels.end();
}

// What the JSON files need from each image, kept while the pixels are written and dropped.
struct ImageRecord {
  Camera camera;
  std::vector<ObjectBox> boxes;
  int dominant_class = -1;
};

std::vector<uint8_t> instance_png(const RenderedView& view) {
  // Annotation k (1-based, in box order) <- the object it labels; unlabelled objects become 0.
  size_t objects = 0;
  for (uint16_t id : view.instance_map) objects = std::max<size_t>(objects, id);
  std::vector<uint16_t> object_to_annotation(objects + 1, 0);
  for (size_t k = 0; k < view.boxes.size(); ++k) object_to_annotation[view.boxes[k].object_index + 1] = uint16_t(k + 1);
  std::vector<uint8_t> out(view.instance_map.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = uint8_t(object_to_annotation[view.instance_map[i]]);
  return out;
}

void write_sample_files(const WorldOptions& options, const SplitSpec& split, const RenderedView& view,
                        const std::filesystem::path& split_dir, const std::string& stem) {
  const int h = view.height, w = view.width, level = options.png_compression;
  const std::string file = stem + ".png";
  data::write_png(split_dir / "images" / file, view.rgb.data(), h, w, 3, 8, level);
  if (has_label(split, Task::kSegmentation)) {
    data::write_png(split_dir / "segmentation" / file, view.class_map.data(), h, w, 1, 8, level);
  }
  if (has_label(split, Task::kDetection)) {
    const auto instances = instance_png(view);
    data::write_png(split_dir / "instances" / file, instances.data(), h, w, 1, 8, level);
  }
  if (has_label(split, Task::kDepth)) {
    std::vector<uint16_t> millimetres(view.depth.size());
    for (size_t i = 0; i < millimetres.size(); ++i) {
      const double mm = std::round(double(view.depth[i]) * 1000.0);
      millimetres[i] = mm > 0 && mm <= 65535 ? uint16_t(mm) : 0;  // out of range = invalid
    }
    data::write_png(split_dir / "depth" / file, millimetres.data(), h, w, 1, 16, level);
  }
  if (has_label(split, Task::kNormals)) {
    const double scale = double((1 << options.normal_bits) - 1);
    std::vector<uint16_t> encoded(view.normals.size());
    for (size_t i = 0; i < encoded.size(); ++i) {
      encoded[i] = uint16_t(std::lround((double(view.normals[i]) + 1.0) * 0.5 * scale));
    }
    if (options.normal_bits == 16) {
      data::write_png(split_dir / "normals" / file, encoded.data(), h, w, 3, 16, level);
    } else {
      const std::vector<uint8_t> narrow(encoded.begin(), encoded.end());
      data::write_png(split_dir / "normals" / file, narrow.data(), h, w, 3, 8, level);
    }
  }
}

ordered_json coco_json(const WorldOptions& options, const std::vector<ImageRecord>& records) {
  ordered_json images = ordered_json::array(), annotations = ordered_json::array(), categories = ordered_json::array();
  int64_t annotation_id = 1;
  for (size_t i = 0; i < records.size(); ++i) {
    images.push_back({{"id", i + 1}, {"file_name", "images/" + image_stem(int64_t(i)) + ".png"},
                      {"height", options.height}, {"width", options.width}});
    for (size_t k = 0; k < records[i].boxes.size(); ++k) {
      const ObjectBox& box = records[i].boxes[k];
      annotations.push_back({{"id", annotation_id++},
                             {"image_id", i + 1},
                             {"category_id", box.class_index + 1},
                             {"bbox", {box.x0, box.y0, box.x1 - box.x0 + 1, box.y1 - box.y0 + 1}},
                             {"area", box.area},
                             {"iscrowd", 0},
                             {"instance_id", k + 1}});
    }
  }
  for (size_t c = 0; c < options.classes.size(); ++c) {
    categories.push_back({{"id", c + 1}, {"name", options.classes[c]}, {"supercategory", "shape"}});
  }
  return {{"images", images}, {"annotations", annotations}, {"categories", categories}};
}

ordered_json conventions_json(const WorldOptions& options) {
  const std::string bits = std::to_string(options.normal_bits);
  return {
      {"camera_frame", "x right, y down, z forward (OpenCV). Pixel (u, v) = (column, row) with integer centres "
                       "looks along ((u - cx) / fx, (v - cy) / fy, 1)"},
      {"images", "images/NNNNNN.png: 8-bit RGB"},
      {"classification", "classification.txt: '<image> <class index>', the class of the largest visible object"},
      {"detection", "detection.json: COCO; bbox [x, y, w, h] is the tight box of the visible pixels (pixel edges), "
                    "area the visible pixel count, category_id = class index + 1"},
      {"instances", "instances/NNNNNN.png: 8-bit, 0 = no labelled object, k = annotation with instance_id k"},
      {"segmentation", "segmentation/NNNNNN.png: 8-bit index into segmentation_classes (exact: no ignore pixels)"},
      {"depth", "depth/NNNNNN.png: 16-bit camera-frame z in millimetres (NYU convention); 0 would mark an invalid pixel (the world has none)"},
      {"normals", "normals/NNNNNN.png: " + bits + "-bit RGB camera-frame unit normal, n = v / (2^" + bits +
                      " - 1) * 2 - 1, facing the camera; a stored (0, 0, 0) would mark an invalid pixel (the world has none)"},
  };
}

ordered_json camera_json(const std::string& file, const Camera& camera) {
  return {{"file", file},
          {"fx", camera.fx},
          {"fy", camera.fy},
          {"cx", camera.cx},
          {"cy", camera.cy},
          {"camera_height", camera.height_above_ground},
          {"camera_pitch_deg", camera.pitch_deg},
          {"camera_yaw_deg", camera.yaw_deg},
          {"fov_deg", camera.fov_deg}};
}

}  // namespace

WorldOptions world_options_from_config(const config::Config& world) {
  WorldOptions options;
  const auto size = world.get_int_list("image_size");
  if (size.size() != 2 || size[0] < 8 || size[1] < 8 || size[0] > 4096 || size[1] > 4096) {
    world.fail("image_size", "expected [height, width], each in [8, 4096]");
  }
  options.height = int(size[0]);
  options.width = int(size[1]);
  options.seed = uint64_t(world.get_int("seed"));
  options.classes = world.get_string_list("classes");
  if (options.classes.empty() || options.classes.size() > 200) world.fail("classes", "expected 1 to 200 classes");
  for (const auto& name : options.classes) {
    if (!shape_registry().contains(name)) {
      world.fail("classes", "unknown shape '" + name + "'; known: " + join(shape_registry().names()));
    }
  }
  options.min_box_area = int(world.get_int("min_box_area"));
  if (options.min_box_area < 1) world.fail("min_box_area", "must be at least 1");
  options.png_compression = int(world.get_int("png_compression"));
  if (options.png_compression < 0 || options.png_compression > 9) world.fail("png_compression", "must lie in [0, 9]");
  options.normal_bits = int(world.get_int("normal_bits"));
  if (options.normal_bits != 8 && options.normal_bits != 16) world.fail("normal_bits", "must be 8 or 16");

  for (const auto& name : world.keys("distributions")) {
    const config::Config node = world.at("distributions." + name);
    SceneDistribution distribution = distribution_from_config(node);
    if (distribution.class_weights == std::vector<double>{1.0}) distribution.class_weights.clear();
    if (!distribution.class_weights.empty() && distribution.class_weights.size() != options.classes.size()) {
      node.fail("class_weights", "expected one weight per class (" + std::to_string(options.classes.size()) + ")");
    }
    options.distributions[name] = distribution;
  }
  for (const auto& name : world.keys("splits")) {
    const config::Config node = world.at("splits." + name);
    SplitSpec split;
    split.name = name;
    split.count = node.get_non_negative_int("count");
    if (split.count == 0) continue;
    split.distribution = node.get_string("distribution");
    if (!options.distributions.count(split.distribution)) {
      node.fail("distribution", "no distribution named '" + split.distribution + "' under world.distributions");
    }
    split.labels = node.get_task_list("labels");
    options.splits.push_back(split);
  }
  return options;
}

WorldSample render_sample(const WorldOptions& options, const SplitSpec& split, int64_t index) {
  const SceneDistribution& distribution = options.distributions.at(split.distribution);
  const uint64_t image_seed = mix_seed(split_seed(options.seed, split.name), uint64_t(index));
  WorldSample sample;
  for (int attempt = 0; attempt < kMaxSceneAttempts; ++attempt) {
    sample.scene = sample_scene(distribution, options.classes, options.height, options.width,
                                mix_seed(image_seed, uint64_t(attempt)));
    sample.view = render(sample.scene, options.min_box_area);
    if (!sample.view.boxes.empty()) return sample;
  }
  MUST_THROW(Error, "split '", split.name, "' image ", index, ": no scene with a visible object in ",
             kMaxSceneAttempts, " draws; check the distribution '", split.distribution, "' (objects, sizes, camera)");
}

WorldSummary write_world(const WorldOptions& options, const std::filesystem::path& dir, int threads) {
  const auto start = std::chrono::steady_clock::now();
  // One queue over all splits, so small splits do not leave threads idle.
  struct Job {
    size_t split;
    int64_t index;
  };
  std::vector<Job> jobs;
  std::vector<std::vector<ImageRecord>> records(options.splits.size());
  for (size_t s = 0; s < options.splits.size(); ++s) {
    const SplitSpec& split = options.splits[s];
    records[s].resize(size_t(split.count));
    const auto split_dir = dir / split.name;
    ensure_directory(split_dir / "images");
    for (Task task : split.labels) {
      const std::string folder = label_folder(task);
      if (!folder.empty()) ensure_directory(split_dir / folder);
    }
    for (int64_t i = 0; i < split.count; ++i) jobs.push_back({s, i});
  }

  parallel_for(int64_t(jobs.size()), threads, [&](int64_t j) {
    const Job& job = jobs[size_t(j)];
    const SplitSpec& split = options.splits[job.split];
    const WorldSample sample = render_sample(options, split, job.index);
    write_sample_files(options, split, sample.view, dir / split.name, image_stem(job.index));
    records[job.split][size_t(job.index)] = {sample.scene.camera, sample.view.boxes, sample.view.dominant_class()};
  });

  ordered_json splits_json = ordered_json::object();
  for (size_t s = 0; s < options.splits.size(); ++s) {
    const SplitSpec& split = options.splits[s];
    const auto split_dir = dir / split.name;
    std::string image_list, class_list;
    ordered_json cameras = ordered_json::array();
    for (size_t i = 0; i < records[s].size(); ++i) {
      const std::string file = "images/" + image_stem(int64_t(i)) + ".png";
      image_list += file + "\n";
      class_list += file + " " + std::to_string(records[s][i].dominant_class) + "\n";
      cameras.push_back(camera_json(file, records[s][i].camera));
    }
    write_file(split_dir / "images.txt", image_list);
    if (has_label(split, Task::kClassification)) write_file(split_dir / "classification.txt", class_list);
    if (has_label(split, Task::kDetection)) write_file(split_dir / "detection.json", coco_json(options, records[s]).dump());
    ordered_json labels = ordered_json::array();
    for (Task task : split.labels) labels.push_back(task_name(task));
    splits_json[split.name] = {{"count", split.count},
                               {"distribution", split.distribution},
                               {"labels", labels},
                               {"images", cameras}};
  }

  ordered_json segmentation_classes = {"ground", "backdrop"};
  for (const auto& name : options.classes) segmentation_classes.push_back(name);
  const ordered_json dataset = {
      {"generator", {{"name", "must_make_world"}, {"version", kWorldVersion}, {"seed", options.seed}}},
      {"image_size", {options.height, options.width}},
      {"classes", options.classes},
      {"segmentation_classes", segmentation_classes},
      {"conventions", conventions_json(options)},
      {"splits", splits_json},
  };
  atomic_write_file(dir / "dataset.json", dataset.dump(1) + "\n");

  WorldSummary summary;
  summary.images = int64_t(jobs.size());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace must::world
