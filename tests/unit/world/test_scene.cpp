#include <gtest/gtest.h>

#include <algorithm>

#include "must/world/render.h"
#include "must/world/scene.h"

namespace must::world {
namespace {

const std::vector<std::string> kClasses{"sphere", "cube", "cylinder", "cone", "pyramid"};

std::vector<const Texture*> textures_of(const Scene& scene) {
  std::vector<const Texture*> out{&scene.ground, &scene.backdrop};
  for (const auto& object : scene.objects) out.push_back(&object.texture);
  return out;
}

double distance(Vec3 a, Vec3 b) { return norm(a - b); }

TEST(SceneDistribution, TextureContrastIsHowFarTheSecondColourLiesFromTheFirst) {
  SceneDistribution plain;
  plain.texture_contrast = {0, 0};
  SceneDistribution quiet;
  quiet.texture_contrast = {0.3, 0.3};
  SceneDistribution loud;  // the default: two unrelated colours
  double largest_quiet = 0, largest_loud = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    for (const Texture* texture : textures_of(sample_scene(plain, kClasses, 32, 32, seed))) {
      EXPECT_EQ(distance(texture->colour_a, texture->colour_b), 0.0);
    }
    for (const Texture* texture : textures_of(sample_scene(quiet, kClasses, 32, 32, seed))) {
      largest_quiet = std::max(largest_quiet, distance(texture->colour_a, texture->colour_b));
    }
    for (const Texture* texture : textures_of(sample_scene(loud, kClasses, 32, 32, seed))) {
      largest_loud = std::max(largest_loud, distance(texture->colour_a, texture->colour_b));
    }
  }
  // Two colours in the unit cube lie at most sqrt(3) apart; 0.3 of the way towards the other, at most 0.3 of it.
  EXPECT_GT(largest_quiet, 0.1);
  EXPECT_LE(largest_quiet, 0.3 * std::sqrt(3.0) + 1e-12);
  EXPECT_GT(largest_loud, 0.3 * std::sqrt(3.0));
}

TEST(SceneDistribution, AMainObjectIsDrawnFirstFromItsOwnSizesAndIsNearlyAlwaysTheLargestVisible) {
  SceneDistribution distribution;
  distribution.objects = {3, 5};
  distribution.object_size = {0.2, 0.3};
  distribution.main_object_size = {0.7, 0.9};
  // A main object (half-width 0.7-0.9) has a wider footprint than any other (0.2-0.3, at most sqrt(2) times that
  // for a cube's corners). It can fail to find a free spot, like any object; then the scene has none.
  int scenes = 0, main_first = 0, main_largest = 0;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const Scene scene = sample_scene(distribution, kClasses, 48, 48, seed);
    ASSERT_FALSE(scene.objects.empty());
    bool first_is_main = true;
    for (size_t i = 1; i < scene.objects.size(); ++i) {
      first_is_main = first_is_main &&
                      scene.objects[0].shape->footprint_radius() > scene.objects[i].shape->footprint_radius();
    }
    main_first += first_is_main;
    const RenderedView view = render(scene, 6);
    if (!first_is_main || view.boxes.empty()) continue;
    const auto largest = std::max_element(view.boxes.begin(), view.boxes.end(),
                                          [](const ObjectBox& a, const ObjectBox& b) { return a.area < b.area; });
    ++scenes;
    main_largest += largest->object_index == 0;
  }
  EXPECT_GE(main_first, 90);
  EXPECT_GE(main_largest, 0.9 * scenes);
}

TEST(SceneDistribution, ARangeOfOneValueDrawsNothingSoTheOtherDrawsStayAsTheyWere) {
  SceneDistribution low, high, drawn;
  low.texture_contrast = {0.2, 0.2};
  high.texture_contrast = {0.5, 0.5};
  drawn.texture_contrast = {0.2, 0.5};
  int moved = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Scene a = sample_scene(low, kClasses, 32, 32, seed), b = sample_scene(high, kClasses, 32, 32, seed);
    ASSERT_EQ(a.objects.size(), b.objects.size());
    EXPECT_EQ(a.camera.height_above_ground, b.camera.height_above_ground);
    EXPECT_EQ(distance(a.ground.colour_a, b.ground.colour_a), 0.0);
    for (size_t i = 0; i < a.objects.size(); ++i) EXPECT_EQ(distance(a.objects[i].position, b.objects[i].position), 0.0);
    // A drawn contrast takes numbers from the stream, so what is drawn after it differs.
    const Scene c = sample_scene(drawn, kClasses, 32, 32, seed);
    moved += c.objects.size() != a.objects.size() || distance(c.objects[0].position, a.objects[0].position) > 0;
  }
  EXPECT_GT(moved, 10);
}

}  // namespace
}  // namespace must::world
