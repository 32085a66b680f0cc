// A world scene: camera, ground, backdrop, objects, light — and the distribution scenes are drawn from.
//
// Frames. World: y up, ground plane y = 0. Camera (OpenCV convention): x right, y down, z forward; a pixel at
// column u, row v (integer centres) looks along ((u - cx) / fx, (v - cy) / fy, 1). Depth is the camera-frame z
// of the visible point (NYU convention), not the length of the ray.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "must/world/geometry.h"
#include "must/world/shapes.h"

namespace must::world {

enum class Pattern { kSolid, kChecker, kStripes, kNoise, kDots, kMarble, kRings };
// Throws must::ConfigError listing the known names.
Pattern pattern_from_name(const std::string& name);

// A procedural two-colour texture evaluated in the surface's own frame (metres).
struct Texture {
  Pattern pattern = Pattern::kSolid;
  Vec3 colour_a{0.5, 0.5, 0.5};  // linear RGB in [0, 1]
  Vec3 colour_b{0.5, 0.5, 0.5};
  double frequency = 4;          // cycles per metre
  uint64_t noise_seed = 0;
  Vec3 albedo(Vec3 p) const;
};

struct Camera {
  int height = 64, width = 64;
  double fx = 0, fy = 0, cx = 0, cy = 0;  // intrinsics, pixels
  Vec3 position;                          // world
  Vec3 right, down, forward;              // world directions of the camera axes x, y, z
  double height_above_ground = 0, pitch_deg = 0, yaw_deg = 0, fov_deg = 0;

  // Places a camera `height` above the world origin, yawed and pitched down, with a horizontal field of view.
  static Camera look(int image_height, int image_width, double height, double pitch_deg, double yaw_deg,
                     double fov_deg);
  Vec3 ray_direction(double u, double v) const;  // unnormalised, z component 1 in the camera frame
  Vec3 to_camera(Vec3 world_direction) const { return {dot(world_direction, right), dot(world_direction, down), dot(world_direction, forward)}; }
};

struct SceneObject {
  int class_index = 0;      // index into the world's class list
  std::shared_ptr<const Shape> shape;
  Vec3 position;            // of the shape frame's origin (on the ground)
  double yaw = 0;           // radians, about y; set with set_yaw, which caches its sine and cosine
  double cos_yaw = 1, sin_yaw = 0;
  Texture texture;
  void set_yaw(double radians);
  // World <-> shape frame.
  Vec3 to_local(Vec3 world_vector) const;
  Vec3 to_world(Vec3 local_vector) const;
};

struct Scene {
  Camera camera;
  std::vector<SceneObject> objects;
  Texture ground;
  Texture backdrop;
  Vec3 backdrop_centre;     // the backdrop is a dome (sphere) around the camera's foot point
  double backdrop_radius = 15;
  Vec3 light_direction;     // world, unit, pointing towards the light
  double ambient = 0.3;
};

// Ranges are [low, high], uniform.
struct SceneDistribution {
  std::array<int, 2> objects{1, 6};
  std::array<double, 2> object_size{0.3, 0.8};
  std::array<double, 2> camera_height{1.0, 2.5};
  std::array<double, 2> camera_pitch_deg{10, 35};
  std::array<double, 2> fov_deg{50, 70};
  std::array<double, 2> backdrop_distance{12, 18};
  std::array<double, 2> light_elevation_deg{25, 70};
  std::array<double, 2> ambient{0.25, 0.45};
  std::array<double, 2> texture_frequency{1.5, 6};
  // How far a texture's second colour lies from its first, towards an independent random colour: 1 = two
  // unrelated colours (patterns louder than shading), near 0 = nearly plain (shading and outline carry shape).
  std::array<double, 2> texture_contrast{1, 1};
  // Size of the scene's main object, drawn first and placed near the middle of the view, as a photo's subject;
  // {0, 0}: no main object, every object is drawn alike from object_size.
  std::array<double, 2> main_object_size{0, 0};
  std::vector<Pattern> patterns{Pattern::kSolid, Pattern::kChecker, Pattern::kStripes, Pattern::kNoise, Pattern::kDots};
  std::vector<double> class_weights;  // relative frequency per class; empty = uniform
};

// Draws one scene. `classes` names registered shapes; class_index refers to it. Deterministic in `seed`.
Scene sample_scene(const SceneDistribution& distribution, const std::vector<std::string>& classes, int image_height,
                   int image_width, uint64_t seed);

}  // namespace must::world
