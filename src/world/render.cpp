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

// What a primary ray meets first: the ground, the backdrop or an object.
struct PrimaryHit {
  double t = 0;                    // the ray parameter, which is the camera-frame depth
  uint8_t label = kBackdropClass;  // the class-map value
  int instance = -1;               // the object's index, -1 for the ground and the backdrop
  Vec3 normal;                     // an object's world-frame normal (shade() fills the others')
  Vec3 local_point;                // an object's hit point in its own frame (its texture's coordinates)
};

// The first surface along `direction` (camera-frame z = 1) from the camera.
PrimaryHit trace(const Scene& scene, const std::vector<PlacedObject>& placed, Vec3 direction) {
  const Camera& camera = scene.camera;
  PrimaryHit hit;
  hit.t = backdrop_hit(scene, camera.position, direction);
  if (direction.y < 0) {
    const double t_ground = -camera.position.y / direction.y;
    if (t_ground < hit.t) {
      hit.t = t_ground;
      hit.label = kGroundClass;
    }
  }
  for (size_t i = 0; i < placed.size(); ++i) {
    Hit object_hit;
    const SceneObject& object = *placed[i].object;
    if (!placed[i].bounds.may_hit(camera.position, direction)) continue;
    if (object.shape->intersect(placed[i].camera_local, object.to_local(direction), 0, hit.t, &object_hit)) {
      hit.t = object_hit.t;
      hit.instance = int(i);
      hit.normal = object.to_world(object_hit.normal);
      hit.local_point = placed[i].camera_local + object.to_local(direction) * hit.t;
    }
  }
  if (hit.instance >= 0) hit.label = uint8_t(kFirstObjectClass + scene.objects[size_t(hit.instance)].class_index);
  return hit;
}

// The hit surface's colour: its albedo under the ambient term and the directional light, which the other objects
// may shadow (the backdrop is lit evenly and casts no shadow). Fills in the ground's and the backdrop's normal.
Vec3 shade(const Scene& scene, const std::vector<PlacedObject>& placed, Vec3 point, PrimaryHit& hit) {
  double light = 1;
  Vec3 albedo;
  if (hit.instance >= 0) {
    albedo = scene.objects[size_t(hit.instance)].texture.albedo(hit.local_point);
  } else if (hit.label == kGroundClass) {
    hit.normal = {0, 1, 0};
    albedo = scene.ground.albedo({point.x, 0, point.z});
  } else {
    hit.normal = normalized(scene.backdrop_centre - point);
    albedo = scene.backdrop.albedo(normalized(point - scene.backdrop_centre) * 3.0);
    light = scene.ambient + (1 - scene.ambient) * 0.6;
  }
  if (hit.label != kBackdropClass) {
    double diffuse = std::max(0.0, dot(hit.normal, scene.light_direction));
    if (diffuse > 0 && in_shadow(placed, scene, point + hit.normal * 1e-6)) diffuse = 0;
    light = scene.ambient + (1 - scene.ambient) * diffuse;
  }
  return albedo * light;
}

// Tight boxes of each object's visible pixels; those of at least `min_box_area` pixels and 2x2, in object order.
std::vector<ObjectBox> visible_boxes(const Scene& scene, const RenderedView& view, int min_box_area) {
  std::vector<ObjectBox> boxes(scene.objects.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    boxes[i] = {int(i), scene.objects[i].class_index, view.width, view.height, -1, -1, 0};
  }
  for (int v = 0; v < view.height; ++v) {
    for (int u = 0; u < view.width; ++u) {
      const int id = view.instance_map[size_t(v) * view.width + u];
      if (id == 0) continue;
      ObjectBox& box = boxes[id - 1];
      box.x0 = std::min(box.x0, u);
      box.y0 = std::min(box.y0, v);
      box.x1 = std::max(box.x1, u);
      box.y1 = std::max(box.y1, v);
      ++box.area;
    }
  }
  std::vector<ObjectBox> visible;
  for (const auto& box : boxes) {
    if (box.area >= min_box_area && box.x1 - box.x0 >= 1 && box.y1 - box.y0 >= 1) visible.push_back(box);
  }
  return visible;
}

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
      const Vec3 direction = camera.ray_direction(u, v);
      PrimaryHit hit = trace(scene, placed, direction);
      const Vec3 colour = shade(scene, placed, camera.position + direction * hit.t, hit);
      view.rgb[3 * index + 0] = to_byte(colour.x);
      view.rgb[3 * index + 1] = to_byte(colour.y);
      view.rgb[3 * index + 2] = to_byte(colour.z);
      view.class_map[index] = hit.label;
      view.instance_map[index] = uint16_t(hit.instance + 1);
      view.depth[index] = float(hit.t);
      const Vec3 n = camera.to_camera(hit.normal);
      view.normals[3 * index + 0] = float(n.x);
      view.normals[3 * index + 1] = float(n.y);
      view.normals[3 * index + 2] = float(n.z);
    }
  }
  view.boxes = visible_boxes(scene, view, min_box_area);
  return view;
}

}  // namespace must::world
