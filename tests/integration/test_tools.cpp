// The executables as a user meets them: flags, exit codes, one-line errors, outputs.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "must/core/fs.h"
#include "must/data/image_io.h"
#include "test_support.h"

namespace must {
namespace {

using test::run_command;
using test::tool_path;

const std::vector<std::string> kTools = {"must_make_world", "must_train_teacher", "must_pseudolabel",
                                         "must_train_student", "must_eval"};

int count_lines(const std::string& text) { return int(std::count(text.begin(), text.end(), '\n')); }
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Tools : public ::testing::Test {
 protected:
  // must_make_world with the quick config and extra arguments.
  test::CommandResult make_world(const std::string& arguments) {
    return run_command(tool_path("must_make_world") + " --threads 2 --output-dir " + (dir_ / "out").string() + " " +
                       arguments);
  }
  std::string write(const std::string& name, const std::string& text) {
    test::write_text(dir_ / name, text);
    return (dir_ / name).string();
  }
  test::ScratchDir dir_;
};

TEST_F(Tools, EveryToolPrintsHelpWithTheStandardFlags) {
  for (const auto& tool : kTools) {
    const auto result = run_command(tool_path(tool) + " --help");
    EXPECT_EQ(result.exit_code, 0) << tool << "\n" << result.output;
    for (const char* flag : {"--config", "--set", "--output-dir", "--threads", "--resume", "--device"}) {
      EXPECT_TRUE(contains(result.output, flag)) << tool << " --help lacks " << flag;
    }
  }
}

TEST_F(Tools, PrintConfigGivesTheCommentedDefaultsTheResolvedConfigOrOneKeyAsSetTakesIt) {
  const std::string world = tool_path("must_make_world") + " --config " +
                            test::source_path("configs/quick/world.yaml").string();
  // Neither --config nor --set: the schema, each key with its comment.
  const auto schema = run_command(tool_path("must_make_world") + " --print-config");
  ASSERT_EQ(schema.exit_code, 0) << schema.output;
  EXPECT_TRUE(contains(schema.output, "image_size: [64, 64]")) << schema.output;
  EXPECT_TRUE(contains(schema.output, "  # ")) << schema.output;
  const auto resolved = run_command(world + " --print-config");
  ASSERT_EQ(resolved.exit_code, 0) << resolved.output;
  EXPECT_TRUE(contains(resolved.output, "image_size: [32, 32]")) << resolved.output;
  EXPECT_FALSE(contains(resolved.output, "#")) << resolved.output;
  // KEY: the resolved value on one line, which --set takes back unchanged.
  const auto size = run_command(world + " --print-config world.image_size");
  ASSERT_EQ(size.exit_code, 0) << size.output;
  EXPECT_EQ(size.output, "[32, 32]\n");
  const auto scenes = run_command(world + " --print-config world.distributions");
  ASSERT_EQ(scenes.exit_code, 0) << scenes.output;
  EXPECT_EQ(count_lines(scenes.output), 1) << scenes.output;
  EXPECT_EQ(scenes.output.rfind("{base: {objects: [", 0), 0u) << scenes.output;
  const std::string value = scenes.output.substr(0, scenes.output.size() - 1);
  const auto again = run_command(world + " --set 'world.distributions=" + value + "' --print-config world.distributions");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output, scenes.output);
  const auto resized = run_command(tool_path("must_make_world") + " --set 'world.image_size=" +
                                   size.output.substr(0, size.output.size() - 1) + "' --print-config world.image_size");
  ASSERT_EQ(resized.exit_code, 0) << resized.output;
  EXPECT_EQ(resized.output, "[32, 32]\n");
  const auto unknown = run_command(world + " --print-config world.imag_size");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_TRUE(contains(unknown.output, "'world.imag_size'")) << unknown.output;
}

TEST_F(Tools, MisspelledKeyExitsTwoNamingKeyAndFile) {
  const std::string config = write("typo.yaml", "_base_: " + test::source_path("configs/quick/world.yaml").string() +
                                                    "\nworld:\n  imag_size: [16, 16]\n");
  const auto result = make_world("--config " + config);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(count_lines(result.output), 1) << result.output;
  EXPECT_TRUE(contains(result.output, config + ": key 'world.imag_size': unknown key (did you mean 'world.image_size'?)"))
      << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out/dataset.json"));
}

TEST_F(Tools, WrongTypeInSetExitsTwoNamingTheKey) {
  const auto result = make_world("--config " + test::source_path("configs/quick/world.yaml").string() +
                                 " --set world.seed=seven");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(count_lines(result.output), 1) << result.output;
  EXPECT_TRUE(contains(result.output, "--set world.seed: key 'world.seed': expected an integer, got 'seven'"))
      << result.output;
}

TEST_F(Tools, MissingBaseFileExitsTwoNamingTheFile) {
  const std::string config = write("leaf.yaml", "_base_: ../nowhere/base.yaml\n");
  const auto result = make_world("--config " + config);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(count_lines(result.output), 1) << result.output;
  EXPECT_TRUE(contains(result.output, config + ": _base_ file '../nowhere/base.yaml' not found")) << result.output;
}

TEST_F(Tools, MalformedYamlExitsTwoNamingTheFileAndLine) {
  const std::string config = write("bad.yaml", "world:\n  seed: 1\n  image_size: [16, 16\n");
  const auto result = make_world("--config " + config);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_EQ(count_lines(result.output), 1) << result.output;
  EXPECT_TRUE(contains(result.output, config + ":")) << result.output;
  EXPECT_TRUE(contains(result.output, "malformed YAML")) << result.output;
}

TEST_F(Tools, UsageErrorsExitTwo) {
  EXPECT_EQ(run_command(tool_path("must_make_world") + " --no-such-flag").exit_code, 2);
  EXPECT_EQ(run_command(tool_path("must_make_world") + " --threads 0 --output-dir x").exit_code, 2);
  const auto no_output = run_command(tool_path("must_make_world"));
  EXPECT_EQ(no_output.exit_code, 2);
  EXPECT_TRUE(contains(no_output.output, "--output-dir is required")) << no_output.output;
  const auto bad_rank = run_command("RANK=two WORLD_SIZE=2 " + tool_path("must_make_world") + " --output-dir " +
                                    (dir_ / "rank").string());
  EXPECT_EQ(bad_rank.exit_code, 2) << bad_rank.output;
  EXPECT_TRUE(contains(bad_rank.output, "RANK")) << bad_rank.output;
  const auto no_gpu = make_world("--device cuda:7");
  EXPECT_EQ(no_gpu.exit_code, 2) << no_gpu.output;
  EXPECT_EQ(make_world("--device tpu").exit_code, 2);
}

TEST_F(Tools, MakeWorldWritesTheQuickWorldTheResolvedConfigAndMetrics) {
  const auto result = make_world("--config " + test::source_path("configs/quick/world.yaml").string() +
                                 " --set world.splits.val.count=5");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(contains(result.output, "[rank 0]")) << result.output;
  const auto dataset = nlohmann::json::parse(read_file(dir_ / "out/dataset.json"));
  EXPECT_EQ(dataset["splits"]["val"]["count"], 5);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "out/val/images/000004.png"));
  // The resolved config is complete and reproduces the run.
  const std::string resolved = read_file(dir_ / "out/config.yaml");
  EXPECT_TRUE(contains(resolved, "image_size: [32, 32]")) << resolved;
  EXPECT_TRUE(contains(resolved, "backdrop_distance")) << resolved;
  const auto rerun = run_command(tool_path("must_make_world") + " --print-config --config " +
                                 (dir_ / "out/config.yaml").string());
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_EQ(rerun.output, resolved);
  const auto metrics = nlohmann::json::parse(read_file(dir_ / "out/metrics.jsonl"));
  EXPECT_EQ(metrics["world/images"], 109);
  EXPECT_GT(metrics["world/images_per_s"].get<double>(), 0);
  EXPECT_TRUE(contains(read_file(dir_ / "out/log.txt"), "wrote 109 images"));
}

TEST_F(Tools, ToolsRunWithShortOpenMPSpinsUnlessTheUserChoseOne) {
  // libgomp reads its settings when it loads: the tool re-executes itself with GOMP_SPINCOUNT set (core/
  // openmp_spin.h), and says so in its log; a setting of the user's is kept.
  const std::string args = " --threads 2 --output-dir " + (dir_ / "out").string() + " --config " +
                           test::source_path("configs/quick/world.yaml").string() + " --set world.splits.val.count=1";
  const auto plain = run_command("env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY " + tool_path("must_make_world") + args);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_TRUE(contains(plain.output, "with 2 thread(s) (GOMP_SPINCOUNT=1000) on cpu")) << plain.output;
  const auto chosen = run_command("env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive " + tool_path("must_make_world") + args);
  ASSERT_EQ(chosen.exit_code, 0) << chosen.output;
  EXPECT_TRUE(contains(chosen.output, "with 2 thread(s) (OMP_WAIT_POLICY=passive) on cpu")) << chosen.output;
}

TEST_F(Tools, MakeWorldPreviewWritesOneContactSheet) {
  const auto result = make_world("--config " + test::source_path("configs/quick/world.yaml").string() + " --preview 3");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto sheet = data::read_image(dir_ / "out/preview.png");
  EXPECT_EQ(sheet.height, 3 * (32 * 3 + 2) + 2);
  EXPECT_EQ(sheet.width, 5 * (32 * 3 + 2) + 2);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out/dataset.json"));
}

}  // namespace
}  // namespace must
