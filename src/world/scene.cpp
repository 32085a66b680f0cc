#include "must/world/scene.h"

#include <algorithm>
#include <map>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must::world {
namespace {

double smoothstep(double t) { return t * t * (3 - 2 * t); }
Vec3 lerp(Vec3 a, Vec3 b, double t) { return a + (b - a) * t; }

double lattice(int64_t x, int64_t y, int64_t z, uint64_t seed) {
  uint64_t h = mix_seed(seed, uint64_t(x) * 0x9E3779B1ULL ^ uint64_t(y) * 0x85EBCA77ULL ^ uint64_t(z) * 0xC2B2AE3DULL);
  return double(h >> 11) * 0x1.0p-53;
}

// Trilinear value noise in [0, 1].
double value_noise(Vec3 p, uint64_t seed) {
  const double fx = std::floor(p.x), fy = std::floor(p.y), fz = std::floor(p.z);
  const int64_t ix = int64_t(fx), iy = int64_t(fy), iz = int64_t(fz);
  const double tx = smoothstep(p.x - fx), ty = smoothstep(p.y - fy), tz = smoothstep(p.z - fz);
  double corner[2][2][2];
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 2; ++c) corner[a][b][c] = lattice(ix + a, iy + b, iz + c, seed);
  auto mix = [](double lo, double hi, double t) { return lo + (hi - lo) * t; };
  const double x00 = mix(corner[0][0][0], corner[1][0][0], tx), x10 = mix(corner[0][1][0], corner[1][1][0], tx);
  const double x01 = mix(corner[0][0][1], corner[1][0][1], tx), x11 = mix(corner[0][1][1], corner[1][1][1], tx);
  return mix(mix(x00, x10, ty), mix(x01, x11, ty), tz);
}

Vec3 hsv_to_rgb(double h, double s, double v) {
  const double k[3] = {5, 3, 1};
  Vec3 out;
  double* channels[3] = {&out.x, &out.y, &out.z};
  for (int i = 0; i < 3; ++i) {
    const double kk = std::fmod(k[i] + h * 6, 6.0);
    *channels[i] = v - v * s * std::max(0.0, std::min({kk, 4 - kk, 1.0}));
  }
  return out;
}

Vec3 random_colour(Rng& rng) { return hsv_to_rgb(rng.uniform(), rng.uniform(0.15, 0.9), rng.uniform(0.3, 1.0)); }

// A uniform draw from [low, high]; a range of one value draws nothing, so such a setting leaves the other draws
// (and a world made before it existed) as they were.
double draw(Rng& rng, const std::array<double, 2>& range) {
  return range[0] == range[1] ? range[0] : rng.uniform(range[0], range[1]);
}

Texture random_texture(const SceneDistribution& distribution, Rng& rng, double frequency_scale = 1) {
  MUST_CHECK(!distribution.patterns.empty(), "a scene distribution needs at least one texture pattern");
  Texture texture;
  texture.pattern = distribution.patterns[rng.integer(0, int64_t(distribution.patterns.size()) - 1)];
  texture.colour_a = random_colour(rng);
  const Vec3 other = random_colour(rng);
  const double contrast = draw(rng, distribution.texture_contrast);
  texture.colour_b = contrast == 1 ? other : lerp(texture.colour_a, other, contrast);
  texture.frequency = frequency_scale * rng.uniform(distribution.texture_frequency[0], distribution.texture_frequency[1]);
  texture.noise_seed = rng.next();
  return texture;
}

int sample_class(const SceneDistribution& distribution, size_t num_classes, Rng& rng) {
  if (distribution.class_weights.empty()) return int(rng.integer(0, int64_t(num_classes) - 1));
  double total = 0;
  for (double w : distribution.class_weights) total += w;
  double pick = rng.uniform() * total;
  for (size_t i = 0; i < distribution.class_weights.size(); ++i) {
    pick -= distribution.class_weights[i];
    if (pick < 0) return int(i);
  }
  return int(distribution.class_weights.size()) - 1;
}

}  // namespace

Pattern pattern_from_name(const std::string& name) {
  static const std::map<std::string, Pattern> kPatterns = {
      {"solid", Pattern::kSolid}, {"checker", Pattern::kChecker}, {"stripes", Pattern::kStripes},
      {"noise", Pattern::kNoise}, {"dots", Pattern::kDots},       {"marble", Pattern::kMarble},
      {"rings", Pattern::kRings}};
  auto it = kPatterns.find(name);
  if (it != kPatterns.end()) return it->second;
  std::vector<std::string> known;
  for (const auto& entry : kPatterns) known.push_back(entry.first);
  MUST_THROW(ConfigError, "unknown texture pattern '", name, "'; known: ", join(known));
}

Vec3 Texture::albedo(Vec3 p) const {
  const Vec3 q = p * frequency;
  switch (pattern) {
    case Pattern::kSolid:
      return colour_a;
    case Pattern::kChecker: {
      const int64_t parity = int64_t(std::floor(q.x)) + int64_t(std::floor(q.y)) + int64_t(std::floor(q.z));
      return (parity & 1) ? colour_b : colour_a;
    }
    case Pattern::kStripes:
      return std::sin(2 * kPi * (q.x + 0.5 * q.y + 0.3 * q.z)) > 0 ? colour_b : colour_a;
    case Pattern::kNoise:
      return lerp(colour_a, colour_b, value_noise(q, noise_seed));
    case Pattern::kDots: {
      const Vec3 cell{q.x - std::floor(q.x) - 0.5, q.y - std::floor(q.y) - 0.5, q.z - std::floor(q.z) - 0.5};
      return dot(cell, cell) < 0.09 ? colour_b : colour_a;
    }
    case Pattern::kMarble:
      return lerp(colour_a, colour_b, 0.5 + 0.5 * std::sin(2 * kPi * q.x + 6 * value_noise(q, noise_seed)));
    case Pattern::kRings:
      return lerp(colour_a, colour_b, 0.5 + 0.5 * std::sin(2 * kPi * std::sqrt(q.x * q.x + q.z * q.z) + q.y));
  }
  return colour_a;
}

Camera Camera::look(int image_height, int image_width, double height, double pitch_deg, double yaw_deg,
                    double fov_deg) {
  Camera camera;
  camera.height = image_height;
  camera.width = image_width;
  camera.height_above_ground = height;
  camera.pitch_deg = pitch_deg;
  camera.yaw_deg = yaw_deg;
  camera.fov_deg = fov_deg;
  const double pitch = radians(pitch_deg), yaw = radians(yaw_deg);
  camera.position = {0, height, 0};
  camera.forward = {std::sin(yaw) * std::cos(pitch), -std::sin(pitch), std::cos(yaw) * std::cos(pitch)};
  camera.right = normalized(cross(camera.forward, {0, 1, 0}));
  camera.down = cross(camera.forward, camera.right);
  camera.fx = camera.fy = 0.5 * image_width / std::tan(0.5 * radians(fov_deg));
  camera.cx = 0.5 * (image_width - 1);
  camera.cy = 0.5 * (image_height - 1);
  return camera;
}

Vec3 Camera::ray_direction(double u, double v) const {
  return right * ((u - cx) / fx) + down * ((v - cy) / fy) + forward;
}

void SceneObject::set_yaw(double radians) {
  yaw = radians;
  cos_yaw = std::cos(radians);
  sin_yaw = std::sin(radians);
}

Vec3 SceneObject::to_local(Vec3 v) const { return {cos_yaw * v.x - sin_yaw * v.z, v.y, sin_yaw * v.x + cos_yaw * v.z}; }

Vec3 SceneObject::to_world(Vec3 v) const { return {cos_yaw * v.x + sin_yaw * v.z, v.y, -sin_yaw * v.x + cos_yaw * v.z}; }

Scene sample_scene(const SceneDistribution& distribution, const std::vector<std::string>& classes, int image_height,
                   int image_width, uint64_t seed) {
  MUST_CHECK(!classes.empty(), "the world needs at least one object class");
  MUST_CHECK(distribution.class_weights.empty() || distribution.class_weights.size() == classes.size(),
             "class_weights has ", distribution.class_weights.size(), " entries for ", classes.size(), " classes");
  Rng rng(seed);
  Scene scene;
  const auto& d = distribution;
  scene.camera = Camera::look(image_height, image_width, rng.uniform(d.camera_height[0], d.camera_height[1]),
                              rng.uniform(d.camera_pitch_deg[0], d.camera_pitch_deg[1]), rng.uniform(0, 360),
                              rng.uniform(d.fov_deg[0], d.fov_deg[1]));
  const double elevation = radians(rng.uniform(d.light_elevation_deg[0], d.light_elevation_deg[1]));
  const double azimuth = rng.uniform(0, 2 * kPi);
  scene.light_direction = {std::cos(elevation) * std::sin(azimuth), std::sin(elevation),
                           std::cos(elevation) * std::cos(azimuth)};
  scene.ambient = rng.uniform(d.ambient[0], d.ambient[1]);
  scene.backdrop_radius = rng.uniform(d.backdrop_distance[0], d.backdrop_distance[1]);
  scene.ground = random_texture(d, rng);
  scene.backdrop = random_texture(d, rng);

  // Objects go where the camera sees the ground: pick the angle below the horizon inside the vertical field of
  // view, and the bearing inside the horizontal one; reject spots that overlap an earlier object.
  const Camera& camera = scene.camera;
  const double half_hfov = 0.5 * radians(camera.fov_deg);
  const double half_vfov = std::atan(std::tan(half_hfov) * image_height / image_width);
  const Vec3 ahead = normalized({camera.forward.x, 0, camera.forward.z});
  // A main object (when the distribution has one) is drawn first, larger, and kept near the middle of the view.
  const bool has_main_object = d.main_object_size[1] > 0;
  const int count = int(rng.integer(d.objects[0], d.objects[1]));
  for (int i = 0; i < count; ++i) {
    const bool main_object = has_main_object && i == 0;
    SceneObject object;
    object.class_index = sample_class(d, classes.size(), rng);
    const double size = main_object ? rng.uniform(d.main_object_size[0], d.main_object_size[1])
                                     : rng.uniform(d.object_size[0], d.object_size[1]);
    object.shape = shape_registry().create(classes[object.class_index], size, rng);
    object.set_yaw(rng.uniform(0, 2 * kPi));
    object.texture = random_texture(d, rng, 1.0 / std::max(size, 0.1));
    const double radius = object.shape->footprint_radius();
    // Where the object may stand, in shares of the half field of view: below the centre row (negative: above it)
    // and to either side. A main object stands in the middle and nearer.
    const std::array<double, 2> rows = main_object ? std::array<double, 2>{-0.1, 0.5} : std::array<double, 2>{-0.6, 0.9};
    const double across = main_object ? 0.3 : 0.85;
    for (int attempt = 0; attempt < 24; ++attempt) {
      const double below = std::max(radians(4), radians(camera.pitch_deg) + rng.uniform(rows[0], rows[1]) * half_vfov);
      const double distance = std::min(camera.height_above_ground / std::tan(below), 0.6 * scene.backdrop_radius);
      const double bearing = rng.uniform(-across, across) * half_hfov;
      const Vec3 spot = ahead * distance + camera.right * (distance * std::tan(bearing));
      bool free = distance > radius + 0.4;
      for (const auto& other : scene.objects) {
        const Vec3 gap = spot - other.position;
        free = free && std::hypot(gap.x, gap.z) > radius + other.shape->footprint_radius() + 0.05;
      }
      if (!free) continue;
      object.position = spot;
      scene.objects.push_back(object);
      break;
    }
  }
  return scene;
}

}  // namespace must::world
