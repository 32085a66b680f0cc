// Random but reproducible detection scenes for the metric tests, and their COCO JSON files (ground truth and
// results), so the same boxes reach our metrics in memory and the reference scripts (tests/eval/*.py) on disk.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "must/core/fs.h"
#include "must/eval/detection_records.h"

namespace must::eval::test {

struct SceneImage {
  int64_t id;
  std::vector<GroundTruthBox> truth;
  std::vector<DetectedBox> detections;
};

// Boxes of every size class (some with annotated areas exactly on the 32^2 and 96^2 bounds), crowd / difficult
// regions, detections near the ground truth (duplicates among them), false positives, scores on a 0.01 grid (so
// ties occur), one image (index 3) with `crowded` detections of category 0 ahead of its true positives, and a
// category without ground truth.
inline std::vector<SceneImage> random_scene(uint64_t seed, int images, int categories, int crowded = 150) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](double low, double high) { return std::uniform_real_distribution<double>(low, high)(rng); };
  auto integer = [&](int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng); };
  auto round2 = [](double v) { return std::round(v * 100) / 100; };
  std::vector<SceneImage> scene;
  for (int i = 0; i < images; ++i) {
    SceneImage image{int64_t(1000 + 7 * ((i * 13) % images)), {}, {}};  // ids not in insertion order
    const int truth_count = integer(0, 8);
    for (int g = 0; g < truth_count; ++g) {
      GroundTruthBox box;
      box.category = integer(0, categories - 2);  // the last category never has ground truth
      const double side = std::exp(uniform(std::log(4.0), std::log(220.0)));
      box.box = {round2(uniform(0, 400)), round2(uniform(0, 300)), round2(side * uniform(0.6, 1.4)), round2(side)};
      const int area_kind = integer(0, 9);
      box.area = area_kind == 0 ? 1024.0 : area_kind == 1 ? 9216.0 : round2(box.box.w * box.box.h * uniform(0.5, 1.0));
      box.ignore = integer(0, 9) == 0;
      image.truth.push_back(box);
    }
    for (const auto& g : image.truth) {
      const int copies = integer(0, 2);
      for (int c = 0; c < copies; ++c) {
        const double jitter = uniform(0, 0.3);
        image.detections.push_back({integer(0, 4) == 0 ? integer(0, categories - 1) : g.category,
                                    {round2(g.box.x + uniform(-jitter, jitter) * g.box.w),
                                     round2(g.box.y + uniform(-jitter, jitter) * g.box.h),
                                     round2(g.box.w * uniform(1 - jitter, 1 + jitter)),
                                     round2(g.box.h * uniform(1 - jitter, 1 + jitter))},
                                    round2(uniform(0.05, 1.0))});
      }
    }
    // Image 3: `crowded` confident false positives of category 0 bury its true positives past the 100 that count.
    if (i == 3) image.truth.push_back({0, {10, 10, 40, 40}, 1600, false});
    const int false_positives = i == 3 ? crowded : integer(0, 4);
    for (int f = 0; f < false_positives; ++f) {
      const double side = std::exp(uniform(std::log(4.0), std::log(200.0)));
      image.detections.push_back({i == 3 ? 0 : integer(0, categories - 1),
                                  {round2(uniform(0, 400)), round2(uniform(0, 300)), round2(side), round2(side * uniform(0.5, 2))},
                                  round2(i == 3 ? uniform(0.5, 1.0) : uniform(0.05, 1.0))});
    }
    if (i == 3) {
      for (const auto& g : image.truth) image.detections.push_back({g.category, g.box, 0.01});
    }
    scene.push_back(std::move(image));
  }
  return scene;
}

// COCO ground truth (category ids = class + 1; `ignore` as iscrowd, and as difficult for the VOC script) and
// results files of `scene`.
inline void write_coco_files(const std::vector<SceneImage>& scene, int categories, const std::filesystem::path& gt,
                             const std::filesystem::path& results) {
  nlohmann::json truth{{"images", nlohmann::json::array()}, {"annotations", nlohmann::json::array()},
                       {"categories", nlohmann::json::array()}};
  nlohmann::json detections = nlohmann::json::array();
  int64_t annotation_id = 1;
  for (const auto& image : scene) {
    truth["images"].push_back({{"id", image.id}, {"file_name", std::to_string(image.id) + ".png"}, {"width", 640}, {"height", 480}});
    for (const auto& g : image.truth) {
      truth["annotations"].push_back({{"id", annotation_id++}, {"image_id", image.id}, {"category_id", g.category + 1},
                                      {"bbox", {g.box.x, g.box.y, g.box.w, g.box.h}}, {"area", g.area},
                                      {"iscrowd", g.ignore ? 1 : 0}, {"difficult", g.ignore ? 1 : 0}});
    }
    for (const auto& d : image.detections) {
      detections.push_back({{"image_id", image.id}, {"category_id", d.category + 1},
                            {"bbox", {d.box.x, d.box.y, d.box.w, d.box.h}}, {"score", d.score}});
    }
  }
  for (int c = 0; c < categories; ++c) truth["categories"].push_back({{"id", c + 1}, {"name", "class" + std::to_string(c)}});
  write_file(gt, truth.dump());
  write_file(results, detections.dump());
}

}  // namespace must::eval::test
