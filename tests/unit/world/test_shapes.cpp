#include <gtest/gtest.h>

#include "must/core/check.h"
#include "must/world/shapes.h"

namespace must::world {
namespace {

// Rays straight down the -z axis towards a shape standing at the origin, from z = 10 at height y.
bool hit_from_front(const Shape& shape, double x, double y, Hit* hit) {
  return shape.intersect({x, y, 10}, {0, 0, -1}, 0, 1e9, hit);
}

std::unique_ptr<Shape> make(const std::string& name, double size) {
  Rng rng(1);
  return shape_registry().create(name, size, rng);
}

TEST(Shapes, SphereHitDistanceAndNormal) {
  const auto sphere = make("sphere", 0.5);
  Hit hit;
  ASSERT_TRUE(hit_from_front(*sphere, 0, 0.5, &hit));
  EXPECT_NEAR(hit.t, 9.5, 1e-12);
  EXPECT_NEAR(hit.normal.z, 1, 1e-12);
  EXPECT_FALSE(hit_from_front(*sphere, 0.6, 0.5, &hit));
  EXPECT_FALSE(sphere->intersect({0, 0.5, 10}, {0, 0, -1}, 0, 9.0, &hit)) << "t_max must bound the hit";
}

TEST(Shapes, CubeFacesHaveAxisNormals) {
  const auto cube = make("cube", 0.5);  // [-0.5, 0.5] x [0, 1] x [-0.5, 0.5]
  Hit hit;
  ASSERT_TRUE(hit_from_front(*cube, 0.3, 0.2, &hit));
  EXPECT_NEAR(hit.t, 9.5, 1e-12);
  EXPECT_NEAR(hit.normal.z, 1, 1e-12);
  ASSERT_TRUE(cube->intersect({0.1, 5, 0.1}, {0, -1, 0}, 0, 1e9, &hit));
  EXPECT_NEAR(hit.t, 4, 1e-12);
  EXPECT_NEAR(hit.normal.y, 1, 1e-12);
  EXPECT_FALSE(hit_from_front(*cube, 0.6, 0.2, &hit));
  EXPECT_FALSE(hit_from_front(*cube, 0, 1.1, &hit));
}

TEST(Shapes, CylinderSideAndCap) {
  const auto cylinder = make("cylinder", 0.5);
  Hit hit;
  ASSERT_TRUE(hit_from_front(*cylinder, 0, 0.4, &hit));
  EXPECT_NEAR(hit.t, 9.5, 1e-12);
  EXPECT_NEAR(hit.normal.z, 1, 1e-12);
  ASSERT_TRUE(cylinder->intersect({0.2, 10, 0}, {0, -1, 0}, 0, 1e9, &hit));
  EXPECT_NEAR(hit.t, 10 - cylinder->top(), 1e-12);
  EXPECT_NEAR(hit.normal.y, 1, 1e-12);
  EXPECT_FALSE(hit_from_front(*cylinder, 0, cylinder->top() + 0.01, &hit));
}

TEST(Shapes, ConeNarrowsToItsApexAndSlantsItsNormal) {
  const auto cone = make("cone", 0.5);
  const double h = cone->top();
  Hit hit;
  // At height y the radius is r (1 - y / h); at half height, 0.25.
  ASSERT_TRUE(hit_from_front(*cone, 0, h / 2, &hit));
  EXPECT_NEAR(hit.t, 10 - 0.25, 1e-9);
  EXPECT_GT(hit.normal.y, 0);
  EXPECT_NEAR(norm(hit.normal), 1, 1e-12);
  EXPECT_NEAR(hit.normal.y / hit.normal.z, 0.5 / h, 1e-9);  // the slope of the side
  EXPECT_FALSE(hit_from_front(*cone, 0.3, h / 2, &hit));
  EXPECT_FALSE(hit_from_front(*cone, 0, h + 0.01, &hit)) << "the mirrored nappe above the apex is not the cone";
}

TEST(Shapes, PyramidSideFacesLeanInwards) {
  const auto pyramid = make("pyramid", 0.5);
  const double h = pyramid->top();
  Hit hit;
  ASSERT_TRUE(hit_from_front(*pyramid, 0, h / 2, &hit));
  EXPECT_NEAR(hit.t, 10 - 0.25, 1e-9);
  EXPECT_NEAR(hit.normal.x, 0, 1e-12);
  EXPECT_NEAR(hit.normal.y / hit.normal.z, 0.5 / h, 1e-9);
  EXPECT_FALSE(hit_from_front(*pyramid, 0.3, h / 2, &hit));
}

TEST(Shapes, RegistryListsTheFiveClassesAndRejectsUnknownOnes) {
  EXPECT_EQ(shape_registry().names(), (std::vector<std::string>{"cone", "cube", "cylinder", "pyramid", "sphere"}));
  Rng rng(0);
  EXPECT_THROW(shape_registry().create("torus", 1.0, rng), ConfigError);
}

}  // namespace
}  // namespace must::world
