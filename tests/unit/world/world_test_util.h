// Builders of hand-made scenes with known answers, for the world's tests.
#pragma once

#include "must/world/render.h"
#include "must/world/scene.h"
#include "must/world/shapes.h"

namespace must::world::test {

// A camera, an empty scene around it (far backdrop, light from above and behind the camera).
inline Scene empty_scene(int height, int width, double camera_height, double pitch_deg, double fov_deg = 60) {
  Scene scene;
  scene.camera = Camera::look(height, width, camera_height, pitch_deg, 0, fov_deg);
  scene.backdrop_radius = 40;
  scene.light_direction = normalized({0.2, 1.0, -0.5});
  return scene;
}

// Adds a shape of class `class_index` standing on the ground at (x, z).
inline void add_object(Scene& scene, const std::string& shape, int class_index, double size, double x, double z,
                       double yaw = 0) {
  Rng rng(7);
  SceneObject object;
  object.class_index = class_index;
  object.shape = shape_registry().create(shape, size, rng);
  object.position = {x, 0, z};
  object.set_yaw(yaw);
  scene.objects.push_back(object);
}

inline Vec3 normal_at(const RenderedView& view, int u, int v) {
  const size_t i = 3 * (size_t(v) * view.width + u);
  return {view.normals[i], view.normals[i + 1], view.normals[i + 2]};
}

}  // namespace must::world::test
