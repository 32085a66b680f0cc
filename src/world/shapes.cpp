#include "must/world/shapes.h"

#include <algorithm>
#include <vector>

namespace must::world {
namespace {

constexpr double kEpsilon = 1e-9;

// Roots of a t^2 + b t + c = 0 in ascending order; false when there are none.
bool solve_quadratic(double a, double b, double c, double* t0, double* t1) {
  if (std::abs(a) < kEpsilon) {
    if (std::abs(b) < kEpsilon) return false;
    *t0 = *t1 = -c / b;
    return true;
  }
  const double discriminant = b * b - 4 * a * c;
  if (discriminant < 0) return false;
  // The numerically stable form (no cancellation between -b and the root).
  const double q = -0.5 * (b + std::copysign(std::sqrt(discriminant), b));
  double r0 = q / a, r1 = std::abs(q) > kEpsilon ? c / q : r0;
  if (r0 > r1) std::swap(r0, r1);
  *t0 = r0;
  *t1 = r1;
  return true;
}

// Keeps `candidate` when it is a closer valid hit.
void take_closer(double t, Vec3 normal, double t_min, double* best_t, Hit* hit) {
  if (t > t_min && t < *best_t) {
    *best_t = t;
    hit->t = t;
    hit->normal = normal;
  }
}

class Sphere final : public Shape {
 public:
  explicit Sphere(double radius) : radius_(radius) {}
  bool intersect(Vec3 o, Vec3 d, double t_min, double t_max, Hit* hit) const override {
    const Vec3 centre{0, radius_, 0};
    const Vec3 oc = o - centre;
    double t0, t1;
    if (!solve_quadratic(dot(d, d), 2 * dot(oc, d), dot(oc, oc) - radius_ * radius_, &t0, &t1)) return false;
    double best = t_max;
    take_closer(t0, (o + d * t0 - centre) * (1 / radius_), t_min, &best, hit);
    if (best == t_max) take_closer(t1, (o + d * t1 - centre) * (1 / radius_), t_min, &best, hit);
    return best < t_max;
  }
  double footprint_radius() const override { return radius_; }
  double top() const override { return 2 * radius_; }

 private:
  double radius_;
};

// A convex polyhedron as the intersection of half-spaces n . p <= offset (cube, pyramid).
class ConvexPolytope : public Shape {
 public:
  struct Plane {
    Vec3 normal;  // unit, outward
    double offset;
  };
  ConvexPolytope(std::vector<Plane> planes, double footprint, double top)
      : planes_(std::move(planes)), footprint_(footprint), top_(top) {}

  bool intersect(Vec3 o, Vec3 d, double t_min, double t_max, Hit* hit) const override {
    double t_enter = -1e300, t_exit = 1e300;
    Vec3 enter_normal;
    for (const auto& plane : planes_) {
      const double denominator = dot(plane.normal, d);
      const double distance = plane.offset - dot(plane.normal, o);
      if (std::abs(denominator) < kEpsilon) {
        if (distance < 0) return false;  // parallel and outside
        continue;
      }
      const double t = distance / denominator;
      if (denominator < 0) {
        if (t > t_enter) {
          t_enter = t;
          enter_normal = plane.normal;
        }
      } else {
        t_exit = std::min(t_exit, t);
      }
    }
    if (t_enter > t_exit || t_enter <= t_min || t_enter >= t_max) return false;
    hit->t = t_enter;
    hit->normal = enter_normal;
    return true;
  }
  double footprint_radius() const override { return footprint_; }
  double top() const override { return top_; }

 private:
  std::vector<Plane> planes_;
  double footprint_, top_;
};

std::unique_ptr<Shape> make_cube(double half) {
  return std::make_unique<ConvexPolytope>(
      std::vector<ConvexPolytope::Plane>{{{1, 0, 0}, half},
                                         {{-1, 0, 0}, half},
                                         {{0, 0, 1}, half},
                                         {{0, 0, -1}, half},
                                         {{0, 1, 0}, 2 * half},
                                         {{0, -1, 0}, 0}},
      half * std::sqrt(2.0), 2 * half);
}

std::unique_ptr<Shape> make_pyramid(double half, double height) {
  // Side faces through the base edge at distance `half` and the apex (0, height, 0).
  const double length = std::hypot(height, half);
  const double horizontal = height / length, vertical = half / length;
  const double offset = half * horizontal;  // n . (half, 0, 0)
  return std::make_unique<ConvexPolytope>(
      std::vector<ConvexPolytope::Plane>{{{horizontal, vertical, 0}, offset},
                                         {{-horizontal, vertical, 0}, offset},
                                         {{0, vertical, horizontal}, offset},
                                         {{0, vertical, -horizontal}, offset},
                                         {{0, -1, 0}, 0}},
      half * std::sqrt(2.0), height);
}

class Cylinder final : public Shape {
 public:
  Cylinder(double radius, double height) : radius_(radius), height_(height) {}
  bool intersect(Vec3 o, Vec3 d, double t_min, double t_max, Hit* hit) const override {
    double best = t_max;
    double t0, t1;
    if (solve_quadratic(d.x * d.x + d.z * d.z, 2 * (o.x * d.x + o.z * d.z), o.x * o.x + o.z * o.z - radius_ * radius_,
                        &t0, &t1)) {
      for (double t : {t0, t1}) {
        const Vec3 p = o + d * t;
        if (p.y >= 0 && p.y <= height_) take_closer(t, Vec3{p.x, 0, p.z} * (1 / radius_), t_min, &best, hit);
      }
    }
    if (std::abs(d.y) > kEpsilon) {
      const double t = (height_ - o.y) / d.y;
      const Vec3 p = o + d * t;
      if (p.x * p.x + p.z * p.z <= radius_ * radius_) take_closer(t, {0, 1, 0}, t_min, &best, hit);
    }
    return best < t_max;
  }
  double footprint_radius() const override { return radius_; }
  double top() const override { return height_; }

 private:
  double radius_, height_;
};

class Cone final : public Shape {
 public:
  Cone(double radius, double height) : radius_(radius), height_(height), slope2_((radius / height) * (radius / height)) {}
  bool intersect(Vec3 o, Vec3 d, double t_min, double t_max, Hit* hit) const override {
    // x^2 + z^2 = k^2 (h - y)^2 with k = r / h, 0 <= y <= h.
    const double q = height_ - o.y;
    double t0, t1;
    double best = t_max;
    if (solve_quadratic(d.x * d.x + d.z * d.z - slope2_ * d.y * d.y,
                        2 * (o.x * d.x + o.z * d.z + slope2_ * q * d.y),
                        o.x * o.x + o.z * o.z - slope2_ * q * q, &t0, &t1)) {
      for (double t : {t0, t1}) {
        const Vec3 p = o + d * t;
        if (p.y < 0 || p.y > height_) continue;  // the mirrored nappe above the apex, or below ground
        take_closer(t, normalized({p.x, slope2_ * (height_ - p.y), p.z}), t_min, &best, hit);
      }
    }
    return best < t_max;
  }
  double footprint_radius() const override { return radius_; }
  double top() const override { return height_; }

 private:
  double radius_, height_, slope2_;
};

}  // namespace

ShapeRegistry& shape_registry() {
  static ShapeRegistry* registry = [] {
    auto* shapes = new ShapeRegistry("shape");
    // Proportions vary within a class (a cylinder may be squat or tall) but never into another class's look.
    shapes->add("sphere", [](double size, Rng&) { return std::make_unique<Sphere>(size); });
    shapes->add("cube", [](double size, Rng&) { return make_cube(size); });
    shapes->add("cylinder",
                [](double size, Rng& rng) { return std::make_unique<Cylinder>(size, size * rng.uniform(1.2, 2.6)); });
    shapes->add("cone", [](double size, Rng& rng) { return std::make_unique<Cone>(size, size * rng.uniform(1.6, 3.0)); });
    shapes->add("pyramid", [](double size, Rng& rng) { return make_pyramid(size, size * rng.uniform(1.2, 2.2)); });
    return shapes;
  }();
  return *registry;
}

}  // namespace must::world
