#include "must/config/config.h"

#include <gtest/gtest.h>

#include "must/core/check.h"
#include "test_support.h"

namespace must::config {
namespace {

constexpr const char* kDefaults = R"yaml(
model:
  depth: 50          # an integer
  width: 1.0         # a number
  frozen: false
  name: resnet
  strides: [4, 8, 16]
  extra: ~           # anything
schedule:
  lr: 0.1
  steps: [100, 200]
heads:
  _any_: {channels: 128, loss: l1}
  depth: {}
  normals: {loss: cosine}
)yaml";

// Loads `file` (relative to the scratch dir) and returns the ConfigError's message, or "" when none.
std::string error_of(const std::filesystem::path& file, const std::vector<std::string>& overrides = {}) {
  try {
    Config::load(kDefaults, file, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class ConfigTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& name, const std::string& text) {
    test::write_text(dir_ / name, text);
    return dir_ / name;
  }
  test::ScratchDir dir_;
};

TEST_F(ConfigTest, DefaultsAloneResolveWithTypedGetters) {
  const Config config = Config::load(kDefaults, "");
  EXPECT_EQ(config.get_int("model.depth"), 50);
  EXPECT_DOUBLE_EQ(config.get_float("model.width"), 1.0);
  EXPECT_FALSE(config.get_bool("model.frozen"));
  EXPECT_EQ(config.get_string("model.name"), "resnet");
  EXPECT_EQ(config.get_int_list("model.strides"), (std::vector<int64_t>{4, 8, 16}));
  EXPECT_EQ(config.get_float_list("schedule.steps"), (std::vector<double>{100, 200}));
  EXPECT_EQ(config.source("model.depth"), "defaults");
  // Open maps: default entries are filled from the template and the template itself is gone.
  EXPECT_EQ(config.keys("heads"), (std::vector<std::string>{"depth", "normals"}));
  EXPECT_EQ(config.get_int("heads.depth.channels"), 128);
  EXPECT_EQ(config.get_string("heads.normals.loss"), "cosine");
}

TEST_F(ConfigTest, BaseChainOfDepthTwoMergesMapsAndReplacesLists) {
  write("a.yaml", "model: {depth: 18, name: a}\nschedule: {steps: [1, 2, 3]}\n");
  write("sub/b.yaml", "_base_: ../a.yaml\nmodel: {width: 0.5}\nschedule: {lr: 0.2}\n");
  const auto leaf = write("sub/c.yaml", "_base_: b.yaml\nmodel: {name: c}\nschedule: {steps: [9]}\n");
  const Config config = Config::load(kDefaults, leaf);
  EXPECT_EQ(config.get_int("model.depth"), 18);           // from a, two levels up
  EXPECT_DOUBLE_EQ(config.get_float("model.width"), 0.5);  // from b
  EXPECT_EQ(config.get_string("model.name"), "c");         // c wins over a
  EXPECT_DOUBLE_EQ(config.get_float("schedule.lr"), 0.2);
  EXPECT_EQ(config.get_int_list("schedule.steps"), (std::vector<int64_t>{9}));  // replaced, not appended
  EXPECT_EQ(config.source("model.depth"), (dir_ / "sub/../a.yaml").string());
  EXPECT_EQ(config.source("model.width"), (dir_ / "sub/b.yaml").string());
  EXPECT_EQ(config.source("model.name"), leaf.string());
}

TEST_F(ConfigTest, ListBasesMergeInOrderThenTheFileWins) {
  write("x.yaml", "model: {depth: 34, name: x, width: 2.0}\n");
  write("y.yaml", "model: {depth: 101}\n");
  const auto leaf = write("leaf.yaml", "_base_: [x.yaml, y.yaml]\nmodel: {width: 3.0}\n");
  const Config config = Config::load(kDefaults, leaf);
  EXPECT_EQ(config.get_int("model.depth"), 101);  // y after x
  EXPECT_EQ(config.get_string("model.name"), "x");
  EXPECT_DOUBLE_EQ(config.get_float("model.width"), 3.0);  // own keys last
}

TEST_F(ConfigTest, DeleteMarkerReplacesInsteadOfMerging) {
  write("base.yaml", "heads: {depth: {channels: 64}, seg: {channels: 32}}\n");
  const auto leaf = write("leaf.yaml", "_base_: base.yaml\nheads: {_delete_: true, normals: {channels: 16}}\n");
  const Config config = Config::load(kDefaults, leaf);
  // Both the base file's entries and the defaults' entries are dropped.
  EXPECT_EQ(config.keys("heads"), (std::vector<std::string>{"normals"}));
  EXPECT_EQ(config.get_int("heads.normals.channels"), 16);
  EXPECT_EQ(config.get_string("heads.normals.loss"), "l1");  // from the template
}

TEST_F(ConfigTest, AConfigsOwnTemplateReachesEveryEntryUnderTheEntrysOwnValues) {
  const auto file = write("any.yaml", "heads: {_any_: {channels: 32}, seg: {loss: ce}}\n");
  const Config config = Config::load(kDefaults, file);
  EXPECT_EQ(config.keys("heads"), (std::vector<std::string>{"depth", "normals", "seg"}));  // no entry named _any_
  EXPECT_EQ(config.get_int("heads.depth.channels"), 32);
  EXPECT_EQ(config.get_int("heads.seg.channels"), 32);
  EXPECT_EQ(config.get_string("heads.seg.loss"), "ce");
  EXPECT_EQ(config.get_string("heads.normals.loss"), "cosine");  // the entry's own default wins over the template
  EXPECT_TRUE(contains(error_of("", {"heads._any_.channels=wide"}), "heads._any_.channels"));
}

TEST_F(ConfigTest, SetOverridesAreTypedYaml) {
  const Config config = Config::load(kDefaults, "", {"model.depth=101", "model.strides=[2, 4]", "heads.seg.channels=7",
                                                      "model.width=2", "model.name=123"});
  EXPECT_EQ(config.get_int("model.depth"), 101);
  EXPECT_EQ(config.get_int_list("model.strides"), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(config.get_int("heads.seg.channels"), 7);
  EXPECT_DOUBLE_EQ(config.get_float("model.width"), 2.0);  // an integer is a number
  EXPECT_EQ(config.get_string("model.name"), "123");       // anything scalar is a string
  EXPECT_EQ(config.source("model.depth"), "--set model.depth");
}

TEST_F(ConfigTest, MisspelledKeyIsRejectedWithTheNearestKeyAndTheFile) {
  const auto file = write("typo.yaml", "model:\n  detph: 18\n");
  const std::string message = error_of(file);
  EXPECT_TRUE(contains(message, file.string() + ": key 'model.detph': unknown key (did you mean 'model.depth'?)"))
      << message;
  EXPECT_TRUE(contains(message, "known keys here: depth, width, frozen, name, strides, extra")) << message;
  EXPECT_TRUE(contains(error_of("", {"modle.depth=3"}), "key 'modle': unknown key (did you mean 'model'?)"));
  // Inside an open map's entries the template's keys are the known ones.
  EXPECT_TRUE(contains(error_of("", {"heads.seg.chanels=3"}), "did you mean 'heads.seg.channels'?"));
}

TEST_F(ConfigTest, WrongTypesNameTheKeyAndWhereTheyWereSet) {
  EXPECT_EQ(error_of("", {"model.depth=abc"}),
            "--set model.depth: key 'model.depth': expected an integer, got 'abc'");
  EXPECT_EQ(error_of("", {"model.depth=1.5"}), "--set model.depth: key 'model.depth': expected an integer, got '1.5'");
  EXPECT_EQ(error_of("", {"model.frozen=yes"}),
            "--set model.frozen: key 'model.frozen': expected a boolean (true/false), got 'yes'");
  EXPECT_EQ(error_of("", {"model.strides=4"}), "--set model.strides: key 'model.strides': expected a list, got '4'");
  EXPECT_EQ(error_of("", {"model.strides=[4, x]"}),
            "--set model.strides: key 'model.strides[1]': expected an integer, got 'x'");
  EXPECT_EQ(error_of("", {"model=3"}), "--set model: key 'model': expected a mapping, got '3'");
  EXPECT_EQ(error_of("", {"model.depth=\"50\""}), "--set model.depth: key 'model.depth': expected an integer, got '50'");
  // A type error in a base file names the base, not the leaf that included it.
  const auto base = write("base.yaml", "schedule: {lr: fast}\n");
  const auto leaf = write("leaf.yaml", "_base_: base.yaml\n");
  EXPECT_EQ(error_of(leaf), base.string() + ": key 'schedule.lr': expected a number, got 'fast'");
}

TEST_F(ConfigTest, MalformedOverridesAreRejected) {
  EXPECT_TRUE(contains(error_of("", {"model.depth"}), "expected KEY=VALUE")) << error_of("", {"model.depth"});
  EXPECT_TRUE(contains(error_of("", {"model..depth=3"}), "malformed key 'model..depth'"));
}

TEST_F(ConfigTest, MissingFilesAreNamed) {
  EXPECT_EQ(error_of(dir_ / "nope.yaml"), "config file '" + (dir_ / "nope.yaml").string() + "' not found");
  const auto leaf = write("leaf.yaml", "_base_: [../missing/base.yaml]\n");
  EXPECT_EQ(error_of(leaf), leaf.string() + ": _base_ file '../missing/base.yaml' not found (looked for '" +
                                (dir_ / "../missing/base.yaml").string() + "')");
}

TEST_F(ConfigTest, MalformedYamlNamesFileAndLine) {
  const auto file = write("bad.yaml", "model:\n  depth: 50\n  name: [unclosed\n");
  const std::string message = error_of(file);
  EXPECT_TRUE(contains(message, file.string() + ":")) << message;
  EXPECT_TRUE(contains(message, "malformed YAML")) << message;
  const auto base = write("bad_base.yaml", "model: {depth: 50\n");
  const auto leaf = write("ok.yaml", "_base_: bad_base.yaml\n");
  EXPECT_TRUE(contains(error_of(leaf), base.string() + ":2:")) << error_of(leaf);
  EXPECT_TRUE(contains(error_of(write("list.yaml", "- a\n- b\n")), "the top level must be a mapping"));
  EXPECT_TRUE(contains(error_of(write("dup.yaml", "model: {depth: 1}\nmodel: {depth: 2}\n")), "duplicate key 'model'"));
  EXPECT_TRUE(contains(error_of(write("base_type.yaml", "_base_: {a: 1}\n")), "_base_ must be a file path"));
}

TEST_F(ConfigTest, BaseCyclesAreRejected) {
  write("p.yaml", "_base_: q.yaml\n");
  const auto q = write("q.yaml", "_base_: p.yaml\n");
  EXPECT_TRUE(contains(error_of(q), "_base_ cycle")) << error_of(q);
}

TEST_F(ConfigTest, EmptyValueKeepsTheDefault) {
  const Config config = Config::load(kDefaults, write("e.yaml", "model:\n  depth:\nschedule:\n"));
  EXPECT_EQ(config.get_int("model.depth"), 50);
  EXPECT_DOUBLE_EQ(config.get_float("schedule.lr"), 0.1);
}

TEST_F(ConfigTest, ViewsGettersAndFailNameFullKeysAndSources) {
  const auto file = write("v.yaml", "heads: {seg: {channels: -4}}\n");
  const Config config = Config::load(kDefaults, file);
  const Config seg = config.at("heads.seg");
  EXPECT_EQ(seg.get_int("channels"), -4);
  EXPECT_EQ(seg.full_key("channels"), "heads.seg.channels");
  try {
    seg.fail("channels", "must be positive");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ": key 'heads.seg.channels': must be positive");
  }
  try {
    config.get_int("model.name");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "defaults: key 'model.name': expected an integer, got 'resnet'");
  }
  EXPECT_THROW(config.get_int("model.nothing"), ConfigError);
  EXPECT_TRUE(config.has("heads.seg.loss"));
  EXPECT_FALSE(config.has("heads.seg.nothing"));
}

// The message of the ConfigError `get` throws, or "" when it throws none.
template <class Get>
std::string getter_error(const Get& get) {
  try {
    get();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_F(ConfigTest, RangeCheckedGettersNameTheKeyAndTheRange) {
  const auto file = write("r.yaml", "model: {depth: 0, width: -0.5}\nschedule: {lr: 1.5}\n");
  const Config config = Config::load(kDefaults, file);
  const std::string where = file.string() + ": key ";
  EXPECT_EQ(getter_error([&] { config.get_positive_int("model.depth"); }), where + "'model.depth': must be positive");
  EXPECT_EQ(config.get_non_negative_int("model.depth"), 0);
  EXPECT_EQ(getter_error([&] { config.get_non_negative_float("model.width"); }),
            where + "'model.width': must not be negative");
  EXPECT_EQ(getter_error([&] { config.at("model").get_positive_float("width"); }),
            where + "'model.width': must be positive");
  EXPECT_EQ(getter_error([&] { config.get_float_in("schedule.lr", 0, 1); }), where + "'schedule.lr': must lie in [0, 1]");
  EXPECT_DOUBLE_EQ(config.get_float_in("schedule.lr", 0, 1.5), 1.5);
  EXPECT_DOUBLE_EQ(config.get_positive_float("schedule.lr"), 1.5);
}

TEST_F(ConfigTest, TaskGettersTakeTaskNamesAndListTheKnownOnes) {
  const auto file = write("t.yaml", "model: {name: depth, extra: [normals, detection]}\nheads: {segmentation: {}, sky: {}}\n");
  const Config config = Config::load(kDefaults, file);
  EXPECT_EQ(config.get_task("model.name"), Task::kDepth);
  EXPECT_EQ(config.get_task_list("model.extra"), (std::vector<Task>{Task::kNormals, Task::kDetection}));
  EXPECT_EQ(config.task_named_by("heads.segmentation"), Task::kSegmentation);
  EXPECT_EQ(config.at("heads").task_named_by("depth"), Task::kDepth);
  const std::string error = getter_error([&] { config.at("heads").task_named_by("sky"); });
  EXPECT_NE(error.find(file.string() + ": key 'heads.sky': "), std::string::npos) << error;
  EXPECT_NE(error.find("classification"), std::string::npos) << error;  // the known names
  EXPECT_NE(getter_error([&] { config.get_task("heads.sky.loss"); }).find("key 'heads.sky.loss'"), std::string::npos);
}

TEST_F(ConfigTest, WrittenConfigReloadsToTheSameResolution) {
  const Config config = Config::load(kDefaults, "", {"model.depth=18", "heads.seg.channels=3"});
  config.write(dir_ / "out/config.yaml");
  const Config again = Config::load(kDefaults, dir_ / "out/config.yaml");
  EXPECT_EQ(again.dump(), config.dump());
  EXPECT_EQ(again.get_int("heads.seg.channels"), 3);
}

}  // namespace
}  // namespace must::config

namespace must::config {
namespace {

TEST(ConfigReads, UnreadKeysAreTheLeavesNoGetterRead) {
  const Config config = Config::load("a:\n  b: 1\n  c: [1, 2]\n  d: {e: x}\n", "", {});
  EXPECT_EQ(config.unread_keys(), (std::vector<std::string>{"a.b", "a.c", "a.d.e"}));
  config.at("a").get_int("b");
  config.get_int_list("a.c");
  EXPECT_EQ(config.unread_keys(), (std::vector<std::string>{"a.d.e"}));
  EXPECT_EQ(config.at("a.d").unread_keys(), (std::vector<std::string>{"a.d.e"}));
}

}  // namespace
}  // namespace must::config
