#include "must/world/render.h"

#include <algorithm>
#include <limits>

namespace must::world {
namespace {

constexpr double kShadowBias = 1e-6;

// Rays that miss an object's bounding sphere skip its exact (and dearer) intersection test.
struct BoundingSphere {
  Vec3 centre;
  double radius_squared;
  explicit BoundingSphere(const SceneObject& object) {
    const double half_top = 0.5 * object.shape->top();
    centre = object.position + Vec3{0, half_top, 0};
    const double radius = std::hypot(object.shape->footprint_radius(), half_top) * (1 + 1e-9);
    radius_squared = radius * radius;
  }
  // True when the line through `origin` along `direction` (any length) passes within the sphere.
  bool may_hit(Vec3 origin, Vec3 direction) const {
    const Vec3 oc = origin - centre;
    const double b = dot(oc, direction), c = dot(oc, oc) - radius_squared;
    return c <= 0 || (b < 0 && b * b >= dot(direction, direction) * c);
  }
};

struct PlacedObject {
  const SceneObject* object;
  Vec3 camera_local;  // the camera position in the object's frame, shared by all primary rays
  BoundingSphere bounds;
};

// The far root of the ray against the backdrop dome, whose inside the camera always is.
double backdrop_hit(const Scene& scene, Vec3 origin, Vec3 direction) {
  const Vec3 oc = origin - scene.backdrop_centre;
  const double a = dot(direction, direction), b = 2 * dot(oc, direction);
  const double c = dot(oc, oc) - scene.backdrop_radius * scene.backdrop_radius;
  return (-b + std::sqrt(b * b - 4 * a * c)) / (2 * a);
}

bool in_shadow(const std::vector<PlacedObject>& placed, const Scene& scene, Vec3 point) {
  for (const auto& entry : placed) {
    const SceneObject& object = *entry.object;
    if (!entry.bounds.may_hit(point, scene.light_direction)) continue;
    Hit hit;
    if (object.shape->intersect(object.to_local(point - object.position), object.to_local(scene.light_direction),
                                kShadowBias, std::numeric_limits<double>::infinity(), &hit)) {
      return true;
    }
  }
  return false;
}

uint8_t to_byte(double value) { return uint8_t(std::clamp(value, 0.0, 1.0) * 255.0 + 0.5); }

}  // namespace

int RenderedView::dominant_class() const {
  const ObjectBox* best = nullptr;
  for (const auto& box : boxes) {
    if (!best || box.area > best->area) best = &box;
  }
  return best ? best->class_index : -1;
}

RenderedView render(const Scene& scene, int min_box_area) {
  const Camera& camera = scene.camera;
  const int height = camera.height, width = camera.width;
  const size_t pixels = size_t(height) * width;
  RenderedView view;
  view.height = height;
  view.width = width;
  view.rgb.resize(pixels * 3);
  view.class_map.resize(pixels);
  view.instance_map.assign(pixels, 0);
  view.depth.resize(pixels);
  view.normals.resize(pixels * 3);

  std::vector<PlacedObject> placed;
  for (const auto& object : scene.objects) {
    placed.push_back({&object, object.to_local(camera.position - object.position), BoundingSphere(object)});
  }

  for (int v = 0; v < height; ++v) {
    for (int u = 0; u < width; ++u) {
      const size_t index = size_t(v) * width + u;
      // The direction has camera-frame z = 1, so the ray parameter t of a hit is its depth.
      const Vec3 direction = camera.ray_direction(u, v);
      double t = backdrop_hit(scene, camera.position, direction);
      uint8_t label = kBackdropClass;
      int instance = -1;
      Vec3 normal, albedo;
      Vec3 local_point;
      if (direction.y < 0) {
        const double t_ground = -camera.position.y / direction.y;
        if (t_ground < t) {
          t = t_ground;
          label = kGroundClass;
        }
      }
      for (size_t i = 0; i < placed.size(); ++i) {
        Hit hit;
        const SceneObject& object = *placed[i].object;
        if (!placed[i].bounds.may_hit(camera.position, direction)) continue;
        if (object.shape->intersect(placed[i].camera_local, object.to_local(direction), 0, t, &hit)) {
          t = hit.t;
          instance = int(i);
          normal = object.to_world(hit.normal);
          local_point = placed[i].camera_local + object.to_local(direction) * t;
        }
      }
      const Vec3 point = camera.position + direction * t;
      double light = 1;
      if (instance >= 0) {
        const SceneObject& object = scene.objects[instance];
        label = uint8_t(kFirstObjectClass + object.class_index);
        albedo = object.texture.albedo(local_point);
      } else if (label == kGroundClass) {
        normal = {0, 1, 0};
        albedo = scene.ground.albedo({point.x, 0, point.z});
      } else {
        normal = normalized(scene.backdrop_centre - point);
        albedo = scene.backdrop.albedo(normalized(point - scene.backdrop_centre) * 3.0);
        light = scene.ambient + (1 - scene.ambient) * 0.6;  // the backdrop is lit evenly, and casts no shadow
      }
      if (label != kBackdropClass) {
        double diffuse = std::max(0.0, dot(normal, scene.light_direction));
        if (diffuse > 0 && in_shadow(placed, scene, point + normal * 1e-6)) diffuse = 0;
        light = scene.ambient + (1 - scene.ambient) * diffuse;
      }
      view.rgb[3 * index + 0] = to_byte(albedo.x * light);
      view.rgb[3 * index + 1] = to_byte(albedo.y * light);
      view.rgb[3 * index + 2] = to_byte(albedo.z * light);
      view.class_map[index] = label;
      view.instance_map[index] = uint16_t(instance + 1);
      view.depth[index] = float(t);
      const Vec3 n = camera.to_camera(normal);
      view.normals[3 * index + 0] = float(n.x);
      view.normals[3 * index + 1] = float(n.y);
      view.normals[3 * index + 2] = float(n.z);
    }
  }

  // Tight boxes of the visible pixels.
  std::vector<ObjectBox> boxes(scene.objects.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    boxes[i] = {int(i), scene.objects[i].class_index, width, height, -1, -1, 0};
  }
  for (int v = 0; v < height; ++v) {
    for (int u = 0; u < width; ++u) {
      const int id = view.instance_map[size_t(v) * width + u];
      if (id == 0) continue;
      ObjectBox& box = boxes[id - 1];
      box.x0 = std::min(box.x0, u);
      box.y0 = std::min(box.y0, v);
      box.x1 = std::max(box.x1, u);
      box.y1 = std::max(box.y1, v);
      ++box.area;
    }
  }
  for (const auto& box : boxes) {
    if (box.area >= min_box_area && box.x1 - box.x0 >= 1 && box.y1 - box.y0 >= 1) view.boxes.push_back(box);
  }
  return view;
}

}  // namespace must::world
