// The shape classes of the world. Each shape lives in its own frame: standing on the ground plane y = 0,
// centred on the y axis, y up. Scenes place and rotate them (yaw about y).
#pragma once

#include <memory>
#include <string>

#include "must/core/registry.h"
#include "must/world/geometry.h"

namespace must::world {

struct Hit {
  double t = 0;  // ray parameter of the hit: point = origin + t * direction
  Vec3 normal;   // outward unit normal at the hit, in the shape's frame
};

class Shape {
 public:
  virtual ~Shape() = default;
  // The nearest hit with t in (t_min, t_max), for a ray starting outside the shape.
  virtual bool intersect(Vec3 origin, Vec3 direction, double t_min, double t_max, Hit* hit) const = 0;
  // Radius of a ground circle around the y axis that holds the whole shape (to place shapes without overlap).
  virtual double footprint_radius() const = 0;
  // Height of the shape's top above the ground. With footprint_radius it bounds the shape, so renderers can
  // skip rays that miss the bounding sphere.
  virtual double top() const = 0;
};

// Factories take the object's size (its characteristic half-width in metres) and a random stream for the
// shape's own proportions. The registry holds sphere, cube, cylinder, cone and pyramid from its first use
// (filled inside the accessor, so static linking cannot drop them); add more with shape_registry().add().
using ShapeRegistry = Registry<std::unique_ptr<Shape>, double, Rng&>;
ShapeRegistry& shape_registry();

}  // namespace must::world
