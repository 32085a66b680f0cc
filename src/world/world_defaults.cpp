#include "must/world/world_writer.h"

namespace must::world {

// The one commented place where the world's settings and their defaults live. Every key a world config may
// set is here; configs/world/world.yaml and configs/quick/world.yaml override a few.
std::string_view world_defaults() {
  return R"yaml(
world:
  image_size: [64, 64]      # height, width in pixels
  seed: 0                   # every byte of the world is a function of the config and this seed
  classes: [sphere, cube, cylinder, cone, pyramid]   # object classes (registered shapes), in label order
  min_box_area: 16          # visible pixels an object needs to be labelled with a box
  png_compression: 1        # zlib level 0-9 of every PNG (1: fast, files ~10% larger than 9)
  normal_bits: 16           # 8 or 16 bits per normal component

  # Scene statistics. Each split draws its scenes from one of these. Ranges are [low, high], uniform; a range of
  # one value ([1.6, 1.6]) fixes the setting. docs/experiments/world.md measures what each choice does to learning.
  distributions:
    _any_:
      objects: [1, 6]               # objects placed per scene (some may end up hidden)
      object_size: [0.3, 0.8]       # half-width of an object, metres
      main_object_size: [0.0, 0.0]  # a main object drawn first, larger, near the middle ([0, 0]: none)
      camera_height: [1.6, 1.6]     # metres above the ground; fixed, so metric depth follows from the view
      camera_pitch_deg: [10, 35]    # below the horizon
      fov_deg: [60, 60]             # horizontal field of view
      backdrop_distance: [15, 15]   # radius of the backdrop dome, metres
      light_elevation_deg: [25, 70]
      ambient: [0.25, 0.45]         # share of light that reaches shadowed and back-facing surfaces
      textures: [solid, checker, stripes, noise, dots]   # also: marble, rings
      texture_frequency: [1.5, 6.0] # pattern cycles per metre (objects: per object size)
      texture_contrast: [0.0, 0.3]  # second colour's share of an independent colour (1: unrelated; 0: plain)
      class_weights: [1.0]          # relative frequency of each class; [1.0] = uniform
    # A scene with a subject: one main object near the middle, up to four smaller ones around it. The class of
    # such an image (classification.txt) is its largest visible object's, nearly always the main one's.
    base: {objects: [1, 5], main_object_size: [0.55, 0.9], object_size: [0.25, 0.6]}
    # Object-centric photos, as in ImageNet: a main object and up to two small ones, from varied heights.
    object_centric: {objects: [1, 3], main_object_size: [0.55, 0.9], object_size: [0.2, 0.45], camera_height: [0.8, 1.6]}
    # Busy scenes, as in detection datasets: three to six objects alike.
    cluttered: {objects: [3, 6]}
    # The downstream benchmarks' distribution: other textures, lighting and camera (higher, narrower, steeper).
    shifted:
      objects: [1, 5]
      main_object_size: [0.55, 0.9]
      object_size: [0.25, 0.6]
      textures: [marble, rings, noise]
      light_elevation_deg: [10, 35]
      ambient: [0.15, 0.3]
      camera_pitch_deg: [20, 50]
      camera_height: [2.5, 2.5]
      fov_deg: [50, 50]

  # What gets written. Each split: how many images, from which distribution, exposing which labels
  # (classification, detection, segmentation, depth, normals). Set count: 0 to skip a split.
  splits:
    _any_: {count: 0, distribution: base, labels: [classification, detection, segmentation, depth, normals]}
    teacher_classification: {count: 200, distribution: object_centric, labels: [classification]}
    teacher_detection: {count: 200, distribution: cluttered, labels: [detection]}
    teacher_segmentation: {count: 200, labels: [segmentation]}
    teacher_depth: {count: 200, labels: [depth]}
    teacher_normals: {count: 200, labels: [normals]}
    unlabeled: {count: 1000, labels: []}
    val: {count: 100}
    downstream_train: {count: 200, distribution: shifted}
    downstream_val: {count: 100, distribution: shifted}
)yaml";
}

}  // namespace must::world
