// Ray-casts a scene: one ray per pixel centre, exact labels for all five tasks.
#pragma once

#include <cstdint>
#include <vector>

#include "must/world/scene.h"

namespace must::world {

// Class-map values: the two stuff classes, then the object classes in the world's class order.
inline constexpr uint8_t kGroundClass = 0;
inline constexpr uint8_t kBackdropClass = 1;
inline constexpr uint8_t kFirstObjectClass = 2;

// The visible part of one object.
struct ObjectBox {
  int object_index = 0;  // into Scene::objects
  int class_index = 0;   // into the world's class list
  int x0 = 0, y0 = 0;    // first visible column and row
  int x1 = 0, y1 = 0;    // last visible column and row (inclusive)
  int64_t area = 0;      // visible pixels
};

struct RenderedView {
  int height = 0, width = 0;
  std::vector<uint8_t> rgb;            // H*W*3, linear shading quantised to 8 bits
  std::vector<uint8_t> class_map;      // H*W, see kGroundClass...
  std::vector<uint16_t> instance_map;  // H*W, 0 = no object, i + 1 = Scene::objects[i]
  std::vector<float> depth;            // H*W, camera-frame z in metres
  std::vector<float> normals;          // H*W*3, camera-frame unit normals facing the camera
  std::vector<ObjectBox> boxes;        // objects with at least `min_box_area` visible pixels, in object order
  // Class of the object with the most visible pixels among `boxes`; -1 when none is visible.
  int dominant_class() const;
};

// min_box_area: objects with fewer visible pixels (or a box under 2x2) get no box: they are too small, or
// occluded, to be labelled fairly.
RenderedView render(const Scene& scene, int min_box_area);

}  // namespace must::world
