// The world dataset on disk, written by must_make_world (docs/formats.md, the world).
//
// <dir>/dataset.json                 written last (atomically): its presence means the world is complete.
//   generator {name, version, seed}, image_size [H, W], classes (object classes; classification label and
//   COCO category_id - 1 index them), segmentation_classes (ground, backdrop, then the object classes),
//   conventions (one sentence per channel, as below), and splits {name: {count, distribution, labels,
//   images: [{file, fx, fy, cx, cy, camera_height, camera_pitch_deg, camera_yaw_deg, fov_deg}]}}.
// <dir>/<split>/images.txt           one image path per line, relative to <dir>/<split>
// <dir>/<split>/images/NNNNNN.png    8-bit RGB
// and, only for the tasks in the split's `labels`:
// <dir>/<split>/classification.txt   "images/NNNNNN.png <class index>": the class of the largest visible object
// <dir>/<split>/detection.json       COCO instances: images {id, file_name, height, width}, annotations {id,
//                                    image_id, category_id, bbox [x, y, w, h], area, iscrowd 0, instance_id},
//                                    categories {id, name}. bbox is the tight box of the visible pixels with
//                                    pixel-edge coordinates (x = first column, w = last - first + 1); area is
//                                    the visible pixel count.
// <dir>/<split>/instances/NNNNNN.png 8-bit; 0 = no labelled object, k = the annotation with instance_id k
// <dir>/<split>/segmentation/NNNNNN.png  8-bit class map, value = index into segmentation_classes
// <dir>/<split>/depth/NNNNNN.png     16-bit camera-frame z in millimetres (NYU convention), 0 = invalid
// <dir>/<split>/normals/NNNNNN.png   RGB, 8- or 16-bit, camera-frame unit normal n = v / (2^bits - 1) * 2 - 1
//                                    (x right, y down, z forward; normals face the camera); (0, 0, 0) = invalid
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "must/config/config.h"
#include "must/core/task.h"
#include "must/world/render.h"
#include "must/world/scene.h"

namespace must::world {

// The generator's version, written to dataset.json: a world's bytes are a function of its config, its seed and this.
// 2: texture contrast, a main object per scene, a fixed camera height (docs/experiments/world.md). The files' layout
// is the same in every version.
inline constexpr int kWorldVersion = 2;

struct SplitSpec {
  std::string name;
  int64_t count = 0;
  std::string distribution;   // key of WorldOptions::distributions
  std::vector<Task> labels;   // the tasks whose labels this split exposes
};

struct WorldOptions {
  int height = 64, width = 64;      // image size
  uint64_t seed = 0;                // the whole world is a pure function of the options and this seed
  std::vector<std::string> classes{"sphere", "cube", "cylinder", "cone", "pyramid"};  // registered shapes
  int min_box_area = 6;             // visible pixels an object needs to get a box
  int png_compression = 1;          // zlib level for every PNG
  int normal_bits = 16;             // 8 or 16
  std::map<std::string, SceneDistribution> distributions;
  std::vector<SplitSpec> splits;    // in the order they are written
};

// The commented defaults of must_make_world's config (the schema its configs are checked against).
std::string_view world_defaults();
// Maps the resolved `world` config node to options. Throws must::ConfigError naming the key on a bad value.
WorldOptions world_options_from_config(const config::Config& world);

// One image of a split: its scene (redrawn until at least one object is visible) and the rendering.
struct WorldSample {
  Scene scene;
  RenderedView view;
};
WorldSample render_sample(const WorldOptions& options, const SplitSpec& split, int64_t index);

struct WorldSummary {
  int64_t images = 0;
  double seconds = 0;
};
// Writes every split into `dir` on `threads` threads. The bytes written do not depend on `threads`.
WorldSummary write_world(const WorldOptions& options, const std::filesystem::path& dir, int threads);

// A contact sheet, one row per sample: image | class map | depth | normals | boxes, for the first `count`
// images of `split`, each tile scaled up `zoom` times.
void write_preview(const WorldOptions& options, const std::string& split, int count,
                   const std::filesystem::path& file, int zoom = 3);

}  // namespace must::world
