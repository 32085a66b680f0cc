#include "must/world/world_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/sha256.h"
#include "must/data/image_io.h"
#include "test_support.h"

namespace must::world {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

WorldOptions quick_options(const std::vector<std::string>& overrides = {}) {
  const auto config = config::Config::load(world_defaults(), must::test::source_path("configs/quick/world.yaml"), overrides);
  return world_options_from_config(config.at("world"));
}

json read_json(const fs::path& path) { return json::parse(read_file(path)); }

// Relative path -> sha256 of every file under `dir`.
std::map<std::string, std::string> tree_hashes(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) out[fs::relative(entry.path(), dir).string()] = sha256_file(entry.path());
  }
  return out;
}

// One world written once for all the read-only tests of this file.
class WrittenWorld : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new must::test::ScratchDir();
    options_ = new WorldOptions(quick_options());
    write_world(*options_, dir_->path(), 2);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete options_;
  }
  static fs::path root() { return dir_->path(); }
  static must::test::ScratchDir* dir_;
  static WorldOptions* options_;
};
must::test::ScratchDir* WrittenWorld::dir_ = nullptr;
WorldOptions* WrittenWorld::options_ = nullptr;

TEST(WorldWriter, SameBytesWhateverTheThreadCount) {
  const WorldOptions options = quick_options();
  must::test::ScratchDir one, two;
  write_world(options, one.path(), 1);
  write_world(options, two.path(), 2);
  const auto a = tree_hashes(one.path()), b = tree_hashes(two.path());
  EXPECT_GT(a.size(), 300u);
  EXPECT_EQ(a, b);
}

TEST(WorldWriter, ADifferentSeedGivesADifferentWorld) {
  must::test::ScratchDir first, second;
  write_world(quick_options(), first.path(), 2);
  write_world(quick_options({"world.seed=1"}), second.path(), 2);
  EXPECT_NE(sha256_file(first / "val/images/000000.png"), sha256_file(second / "val/images/000000.png"));
}

TEST_F(WrittenWorld, NoImageAppearsInTwoSplits) {
  std::map<std::string, std::string> owner;  // pixel hash -> split
  const json dataset = read_json(root() / "dataset.json");
  for (const auto& [split, info] : dataset["splits"].items()) {
    for (const auto& image : info["images"]) {
      const auto pixels = data::read_image(root() / split / image["file"].get<std::string>());
      const std::string hash = sha256_hex(std::string(pixels.bytes.begin(), pixels.bytes.end()));
      const auto [it, fresh] = owner.emplace(hash, split + "/" + image["file"].get<std::string>());
      EXPECT_TRUE(fresh) << split << "/" << image["file"] << " duplicates " << it->second;
    }
  }
  EXPECT_EQ(owner.size(), 120u);
}

TEST_F(WrittenWorld, EachTeacherSplitCarriesOnlyItsTask) {
  // What each task leaves in a split folder.
  const std::map<std::string, std::string> evidence = {{"classification", "classification.txt"},
                                                       {"detection", "detection.json"},
                                                       {"segmentation", "segmentation"},
                                                       {"depth", "depth"},
                                                       {"normals", "normals"}};
  const json dataset = read_json(root() / "dataset.json");
  for (const auto& [task, file] : evidence) {
    const std::string split = "teacher_" + task;
    EXPECT_EQ(dataset["splits"][split]["labels"], json::array({task}));
    for (const auto& [other, other_file] : evidence) {
      EXPECT_EQ(fs::exists(root() / split / other_file), other == task) << split << " / " << other_file;
    }
    EXPECT_EQ(fs::exists(root() / split / "instances"), task == "detection");
    EXPECT_TRUE(fs::exists(root() / split / "images.txt"));
  }
  for (const auto& [task, file] : evidence) {
    EXPECT_FALSE(fs::exists(root() / "unlabeled" / file)) << file;
    EXPECT_TRUE(fs::exists(root() / "val" / file)) << file;
  }
  EXPECT_EQ(dataset["splits"]["unlabeled"]["labels"], json::array());
}

TEST_F(WrittenWorld, BoxesAreTheTightBoxesOfTheirInstancePixels) {
  const json coco = read_json(root() / "val/detection.json");
  std::map<int, std::string> files;
  for (const auto& image : coco["images"]) files[image["id"]] = image["file_name"];
  ASSERT_GT(coco["annotations"].size(), 16u);
  for (const auto& annotation : coco["annotations"]) {
    const std::string stem = fs::path(files[annotation["image_id"]]).filename();
    const auto instances = data::read_image(root() / "val/instances" / stem);
    const auto classes = data::read_image(root() / "val/segmentation" / stem);
    const int id = annotation["instance_id"], w = instances.width;
    int x0 = w, y0 = instances.height, x1 = -1, y1 = -1, area = 0;
    for (int v = 0; v < instances.height; ++v) {
      for (int u = 0; u < w; ++u) {
        if (instances.u8()[v * w + u] != id) continue;
        x0 = std::min(x0, u), y0 = std::min(y0, v), x1 = std::max(x1, u), y1 = std::max(y1, v), ++area;
        ASSERT_EQ(classes.u8()[v * w + u], kFirstObjectClass + annotation["category_id"].get<int>() - 1);
      }
    }
    EXPECT_EQ(annotation["bbox"], json::array({x0, y0, x1 - x0 + 1, y1 - y0 + 1})) << stem << " #" << id;
    EXPECT_EQ(annotation["area"], area);
  }
}

TEST_F(WrittenWorld, ClassificationLabelIsTheLargestVisibleObject) {
  const json coco = read_json(root() / "val/detection.json");
  std::map<int, std::pair<int, int>> largest;  // image id -> (area, class)
  for (const auto& annotation : coco["annotations"]) {
    auto& best = largest[annotation["image_id"]];
    if (annotation["area"].get<int>() > best.first) best = {annotation["area"], annotation["category_id"].get<int>() - 1};
  }
  std::ifstream labels(root() / "val/classification.txt");
  std::string file;
  int label, image_id = 0, lines = 0;
  while (labels >> file >> label) {
    ++lines;
    EXPECT_EQ(label, largest[++image_id].second) << file;
  }
  EXPECT_EQ(lines, 16);
}

TEST_F(WrittenWorld, DepthPngIsTheRenderedDepthInMillimetres) {
  const SplitSpec& val = *std::find_if(options_->splits.begin(), options_->splits.end(),
                                       [](const SplitSpec& s) { return s.name == "val"; });
  const WorldSample sample = render_sample(*options_, val, 3);
  const auto depth = data::read_image(root() / "val/depth/000003.png");
  ASSERT_EQ(depth.bit_depth, 16);
  for (size_t i = 0; i < depth.num_values(); ++i) {
    ASSERT_NEAR(depth.u16()[i], sample.view.depth[i] * 1000.0, 0.5 + 1e-3) << "pixel " << i;
  }
}

// Normals recomputed from the written depth (back-projected with the written intrinsics) agree with the
// written normals on smooth regions.
TEST_F(WrittenWorld, NormalsAgreeWithBackProjectedDepth) {
  const json dataset = read_json(root() / "dataset.json");
  std::vector<double> angles;
  for (const auto& camera : dataset["splits"]["val"]["images"]) {
    const std::string stem = fs::path(camera["file"].get<std::string>()).filename();
    const auto depth = data::read_image(root() / "val/depth" / stem);
    const auto normals = data::read_image(root() / "val/normals" / stem);
    const auto classes = data::read_image(root() / "val/segmentation" / stem);
    const double fx = camera["fx"], fy = camera["fy"], cx = camera["cx"], cy = camera["cy"];
    const int w = depth.width, h = depth.height;
    auto point = [&](int u, int v) {
      const double z = depth.u16()[v * w + u] / 1000.0;
      return Vec3{(u - cx) / fx * z, (v - cy) / fy * z, z};
    };
    for (int v = 1; v + 1 < h; ++v) {
      for (int u = 1; u + 1 < w; ++u) {
        // Smooth: the 3x3 neighbourhood is one class and not the far backdrop (mm steps are coarse there).
        const uint8_t label = classes.u8()[v * w + u];
        bool smooth = label != kBackdropClass;
        for (int dv = -1; dv <= 1; ++dv)
          for (int du = -1; du <= 1; ++du) smooth = smooth && classes.u8()[(v + dv) * w + u + du] == label;
        if (!smooth) continue;
        Vec3 n = normalized(cross(point(u + 1, v) - point(u - 1, v), point(u, v + 1) - point(u, v - 1)));
        if (dot(n, point(u, v)) > 0) n = n * -1.0;  // face the camera
        const uint16_t* stored = normals.u16() + 3 * (v * w + u);
        const Vec3 written = normalized({stored[0] / 65535.0 * 2 - 1, stored[1] / 65535.0 * 2 - 1,
                                         stored[2] / 65535.0 * 2 - 1});
        angles.push_back(std::acos(std::clamp(dot(n, written), -1.0, 1.0)) * 180 / kPi);
      }
    }
  }
  ASSERT_GT(angles.size(), 2000u);
  std::nth_element(angles.begin(), angles.begin() + angles.size() / 2, angles.end());
  EXPECT_LT(angles[angles.size() / 2], 5.0);
}

TEST_F(WrittenWorld, DatasetJsonDescribesTheWorld) {
  const json dataset = read_json(root() / "dataset.json");
  EXPECT_EQ(dataset["generator"]["name"], "must_make_world");
  EXPECT_EQ(dataset["generator"]["version"], kWorldVersion);
  EXPECT_EQ(dataset["image_size"], json::array({32, 32}));
  EXPECT_EQ(dataset["classes"].size(), 5u);
  EXPECT_EQ(dataset["segmentation_classes"][0], "ground");
  for (const char* channel : {"depth", "normals", "segmentation", "detection", "camera_frame"}) {
    EXPECT_TRUE(dataset["conventions"].contains(channel)) << channel;
  }
  EXPECT_EQ(dataset["splits"]["val"]["images"].size(), 16u);
  EXPECT_EQ(dataset["splits"]["downstream_val"]["distribution"], "shifted");
}

TEST(WorldOptions, BadValuesNameTheirKey) {
  auto message = [](const std::vector<std::string>& overrides) {
    try {
      quick_options(overrides);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({"world.splits.val.distribution=nowhere"}).find("key 'world.splits.val.distribution'"),
            std::string::npos);
  EXPECT_NE(message({"world.distributions.base.class_weights=[1, 2]"}).find("one weight per class"), std::string::npos);
  EXPECT_NE(message({"world.classes=[sphere, torus]"}).find("unknown shape 'torus'"), std::string::npos);
  EXPECT_NE(message({"world.splits.val.labels=[depht]"}).find("did you mean 'depth'"), std::string::npos);
  EXPECT_NE(message({"world.distributions.base.fov_deg=[70, 50]"}).find("low <= high"), std::string::npos);
  EXPECT_NE(message({"world.distributions.base.textures=[plaid]"}).find("unknown texture pattern 'plaid'"),
            std::string::npos);
  EXPECT_NE(message({"world.distributions.base.texture_contrast=[0.5, 1.5]"}).find("must lie in [0, 1]"),
            std::string::npos);
  EXPECT_NE(message({"world.distributions._any_.main_object_size=[-1, 0]"}).find("key 'world.distributions."),
            std::string::npos);
  // New splits and distributions are open keys, checked against the template.
  const WorldOptions options = quick_options({"world.splits.extra.count=3", "world.distributions.tiny.objects=[1, 1]"});
  EXPECT_TRUE(std::any_of(options.splits.begin(), options.splits.end(), [](const SplitSpec& s) { return s.name == "extra"; }));
  EXPECT_EQ(options.distributions.at("tiny").objects[1], 1);
}

}  // namespace
}  // namespace must::world
