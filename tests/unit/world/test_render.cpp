#include <gtest/gtest.h>

#include <set>

#include "must/world/render.h"
#include "world_test_util.h"

namespace must::world {
namespace {

using test::add_object;
using test::empty_scene;
using test::normal_at;

// Odd sizes put a pixel centre exactly on the optical axis (cx = (W - 1) / 2).
constexpr int kSize = 65;
constexpr int kCentre = kSize / 2;

TEST(Render, SphereStraightAheadHasDepthDMinusRAndFacesTheCamera) {
  const double r = 0.5, d = 4.0;
  Scene scene = empty_scene(kSize, kSize, r, 0);  // camera at the height of the sphere's centre, level
  add_object(scene, "sphere", 0, r, 0, d);
  const RenderedView view = render(scene, 1);
  const size_t centre = size_t(kCentre) * kSize + kCentre;
  EXPECT_NEAR(view.depth[centre], d - r, 1e-3);  // the acceptance bound is 1 mm
  const Vec3 n = normal_at(view, kCentre, kCentre);
  EXPECT_NEAR(n.x, 0, 1e-6);
  EXPECT_NEAR(n.y, 0, 1e-6);
  EXPECT_NEAR(n.z, -1, 1e-6);
  EXPECT_EQ(view.class_map[centre], kFirstObjectClass + 0);
  EXPECT_EQ(view.instance_map[centre], 1);
}

TEST(Render, SphereBoxMatchesItsProjectedSilhouette) {
  const double r = 0.5, d = 4.0;
  Scene scene = empty_scene(kSize, kSize, r, 0);
  add_object(scene, "sphere", 0, r, 0, d);
  const RenderedView view = render(scene, 1);
  ASSERT_EQ(view.boxes.size(), 1u);
  // A sphere seen from distance d subtends the half-angle asin(r / d); on the image plane, f tan(asin(r / d)).
  const double half_width = scene.camera.fx * std::tan(std::asin(r / d));
  const ObjectBox& box = view.boxes[0];
  EXPECT_NEAR(box.x0, scene.camera.cx - half_width, 1.0);
  EXPECT_NEAR(box.x1, scene.camera.cx + half_width, 1.0);
  EXPECT_NEAR(box.y0, scene.camera.cy - half_width, 1.0);
  EXPECT_NEAR(box.y1, scene.camera.cy + half_width, 1.0);
  EXPECT_NEAR(double(box.area), kPi * half_width * half_width, 0.1 * box.area);
}

TEST(Render, CubeFaceSeenHeadOnHasOneNormalAndPlanarDepth) {
  const double half = 0.6, d = 5.0;
  Scene scene = empty_scene(kSize, kSize, half, 0);
  add_object(scene, "cube", 1, half, 0, d);
  const RenderedView view = render(scene, 1);
  int pixels = 0;
  for (int v = 0; v < kSize; ++v) {
    for (int u = 0; u < kSize; ++u) {
      if (view.instance_map[size_t(v) * kSize + u] != 1) continue;
      ++pixels;
      const Vec3 n = normal_at(view, u, v);
      ASSERT_NEAR(n.z, -1, 1e-6) << "pixel " << u << "," << v;
      ASSERT_NEAR(view.depth[size_t(v) * kSize + u], d - half, 1e-5);
    }
  }
  EXPECT_GT(pixels, 100);
}

TEST(Render, GroundNormalsFollowTheCameraPitch) {
  for (double pitch : {0.0, 15.0, 40.0}) {
    Scene scene = empty_scene(kSize, kSize, 1.5, pitch);
    const RenderedView view = render(scene, 1);
    const double p = radians(pitch);
    int ground = 0;
    for (int v = 0; v < kSize; ++v) {
      for (int u = 0; u < kSize; ++u) {
        if (view.class_map[size_t(v) * kSize + u] != kGroundClass) continue;
        ++ground;
        const Vec3 n = normal_at(view, u, v);
        ASSERT_NEAR(n.x, 0, 1e-6);
        ASSERT_NEAR(n.y, -std::cos(p), 1e-6);
        ASSERT_NEAR(n.z, -std::sin(p), 1e-6);
      }
    }
    EXPECT_GT(ground, kSize * kSize / 4) << "pitch " << pitch;
  }
}

TEST(Render, GroundDepthIsTheAnalyticPlaneDepth) {
  // A level camera at height h: the ground at row v lies at z = h fy / (v - cy).
  const double h = 1.2;
  Scene scene = empty_scene(kSize, kSize, h, 0);
  const RenderedView view = render(scene, 1);
  for (int v = kCentre + 3; v < kSize; ++v) {
    const double expected = h * scene.camera.fy / (v - scene.camera.cy);
    EXPECT_NEAR(view.depth[size_t(v) * kSize + 10], expected, 1e-4 * expected) << "row " << v;
  }
}

TEST(Render, OcclusionKeepsTheNearerObjectAndDropsHiddenOnes) {
  Scene scene = empty_scene(kSize, kSize, 0.5, 0);
  add_object(scene, "cube", 1, 0.6, 0, 4);    // in front, covers the sphere
  add_object(scene, "sphere", 0, 0.3, 0, 8);  // hidden behind
  const RenderedView view = render(scene, 1);
  ASSERT_EQ(view.boxes.size(), 1u);
  EXPECT_EQ(view.boxes[0].object_index, 0);
  EXPECT_EQ(view.dominant_class(), 1);
  std::set<uint16_t> instances(view.instance_map.begin(), view.instance_map.end());
  EXPECT_EQ(instances.count(2), 0u);
}

TEST(Render, TinyObjectsGetNoBox) {
  Scene scene = empty_scene(kSize, kSize, 1.0, 10);
  add_object(scene, "sphere", 0, 0.05, 0, 15);
  const RenderedView view = render(scene, 6);
  EXPECT_TRUE(view.boxes.empty());
  EXPECT_EQ(view.dominant_class(), -1);
}

TEST(Render, ShadowsDarkenTheGroundBehindAnObject) {
  Scene scene = empty_scene(kSize, kSize, 2.0, 30);
  // A low light from behind the camera: the cube's shadow falls away from it, long enough to reach the ground
  // seen just above the cube in the image.
  scene.light_direction = normalized({0, 0.15, -1});
  scene.ground.colour_a = {0.8, 0.8, 0.8};
  scene.ambient = 0.05;
  add_object(scene, "cube", 1, 0.5, 0, 4);
  const RenderedView view = render(scene, 1);
  // Walk up the image column through the cube: just above it (behind, on the ground) is shadow.
  const int u = kCentre;
  int top = -1;
  for (int v = 0; v < kSize; ++v) {
    if (view.instance_map[size_t(v) * kSize + u] == 1) {
      top = v;
      break;
    }
  }
  ASSERT_GT(top, 1);
  const size_t behind = size_t(top - 1) * kSize + u;
  ASSERT_EQ(view.class_map[behind], kGroundClass);
  const size_t open_ground = size_t(kSize - 1) * kSize + 2;
  EXPECT_LT(view.rgb[3 * behind], view.rgb[3 * open_ground] / 2);
}

}  // namespace
}  // namespace must::world
