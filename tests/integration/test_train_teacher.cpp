// must_train_teacher as a user meets it, on the quick world: the five teachers train and evaluate, a run killed
// with SIGKILL resumes onto the same loss curve, a NaN stops or is skipped, and every config takes a step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "must/core/fs.h"
#include "must/data/data_config.h"
#include "must/engine/train_config.h"
#include "must/engine/train_module.h"
#include "must/eval/eval_config.h"
#include "must/models/model_config.h"
#include "must/models/state_dict_file.h"
#include "must/pipelines/pseudolabel.h"
#include "must/pipelines/student.h"
#include "must/world/world_writer.h"
#include "test_support.h"
#include "train_support.h"

namespace must {
namespace {

using test::run_command;
using test::tool_path;

using test::contains;
using test::expect_same_steps;
using test::expect_same_weights;
using test::read_metrics;

class TrainTeacher : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir();
    test::write_quick_world(root() / "world");
  }
  static void TearDownTestSuite() { delete dir_; }
  static const std::filesystem::path& root() { return dir_->path(); }
  // must_train_teacher on a quick teacher config over the quick world.
  static std::string command(const std::string& task, const std::string& output, const std::string& extra = "") {
    const std::string world = (root() / "world").string();
    return tool_path("must_train_teacher") + " --threads 2 --config " +
           test::source_path("configs/quick/teachers/" + task + ".yaml").string() + " --set data.train.root=" + world +
           " --set data.eval.root=" + world + " --output-dir " + (root() / output).string() + " " + extra;
  }
  static test::ScratchDir* dir_;
};
test::ScratchDir* TrainTeacher::dir_ = nullptr;

TEST_F(TrainTeacher, EveryWorldTeacherTrainsThenMustEvalScoresIt) {
  for (const std::string task : {"classification", "detection", "segmentation", "depth", "normals"}) {
    SCOPED_TRACE(task);
    const auto run = run_command(command(task, task));
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_TRUE(contains(run.output, "iter 6/6")) << run.output;
    EXPECT_TRUE(std::filesystem::exists(root() / task / "model_final.safetensors"));
    const auto metrics = read_metrics(root() / task / "metrics.jsonl");
    ASSERT_TRUE(metrics.count(6));
    const std::string headline = "world_val/" + task + "/" + std::string(task_spec(task_from_name(task)).headline_metric);
    EXPECT_TRUE(metrics.at(6).count(headline)) << headline;
    bool has_loss = false;
    for (const auto& [key, value] : metrics.at(2)) has_loss = has_loss || key.rfind("loss/" + task + "/", 0) == 0;
    EXPECT_TRUE(has_loss);
    EXPECT_TRUE(metrics.at(2).count("time/images_per_s"));
    EXPECT_TRUE(nlohmann::json::parse(read_file(root() / task / "metrics.json")).contains(headline));

    const auto eval = run_command(tool_path("must_eval") + " --threads 2 --config " +
                                  test::source_path("configs/quick/teachers/" + task + ".yaml").string() +
                                  " --set data.eval.root=" + (root() / "world").string() + " --weights " +
                                  (root() / task / "model_final.safetensors").string() + " --output-dir " +
                                  (root() / (task + "_eval")).string());
    ASSERT_EQ(eval.exit_code, 0) << eval.output;
    EXPECT_TRUE(nlohmann::json::parse(read_file(root() / (task + "_eval") / "metrics.json")).contains(headline));
  }
}

// SIGKILL mid-run, a truncated newest checkpoint, --resume: every logged loss equals the uninterrupted run's, and
// the final weights are identical.
TEST_F(TrainTeacher, KilledRunResumesOntoTheSameLossCurve) {
  const std::string settings = "--set train.max_iterations=40 --set train.checkpoint_period=2 --set train.log_period=1 "
                               "--set train.keep_checkpoints=3 --set data.loader.batch_size=8";
  const auto straight = run_command(command("classification", "straight", settings));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  const auto killed_dir = root() / "killed";
  const auto killed = run_command("(" + command("classification", "killed", settings) + " > " +
                                  (root() / "killed.log").string() + " 2>&1 & pid=$!; " +
                                  "until grep -qs '\"iteration\": \\(6\\|[1-9][0-9]\\)' " + (killed_dir / "last_checkpoint").string() +
                                  "; do sleep 0.01; done; kill -9 $pid; wait $pid; echo killed $?)");
  ASSERT_TRUE(contains(killed.output, "killed 137")) << killed.output << read_file(root() / "killed.log");
  ASSERT_FALSE(std::filesystem::exists(killed_dir / "model_final.safetensors")) << "the run ended before the kill";
  // Cut the newest checkpoint short: the resumed run names it and takes the one before.
  const auto pointer = nlohmann::json::parse(read_file(killed_dir / "last_checkpoint"));
  const auto newest = killed_dir / pointer["checkpoints"].back()["file"].get<std::string>();
  const std::string bytes = read_file(newest);
  write_file(newest, bytes.substr(0, bytes.size() / 2));

  const auto refused = run_command(command("classification", "killed", settings));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(contains(refused.output, "--resume")) << refused.output;
  const auto resumed = run_command(command("classification", "killed", settings + " --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, newest.string() + " is damaged")) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "resumed at iteration")) << resumed.output;

  const auto expected = read_metrics(root() / "straight/metrics.jsonl");
  const auto got = read_metrics(killed_dir / "metrics.jsonl");
  int compared = 0;
  for (const auto& [step, values] : got) {
    for (const auto& [key, value] : values) {
      if (key.rfind("loss/", 0) != 0) continue;
      ASSERT_TRUE(expected.count(step) && expected.at(step).count(key)) << step << " " << key;
      EXPECT_EQ(value, expected.at(step).at(key)) << "step " << step << " " << key;
      ++compared;
    }
  }
  EXPECT_GE(compared, 2 * 40);  // every step's classifier and total loss
  const auto a = models::read_state_dict(root() / "straight/model_final.safetensors");
  const auto b = models::read_state_dict(killed_dir / "model_final.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
}

TEST_F(TrainTeacher, NonFiniteLossStopsNamingTheStepOrIsSkipped) {
  const auto stopped = run_command(command("depth", "nan_stop", "--set train.inject_nan_at=4"));
  EXPECT_EQ(stopped.exit_code, 1) << stopped.output;
  EXPECT_TRUE(contains(stopped.output, "must_train_teacher: error: step 4: non-finite loss (loss/depth/l1 = ")) << stopped.output;
  EXPECT_TRUE(contains(stopped.output, "the last good checkpoint is " + (root() / "nan_stop/checkpoint_00000003.safetensors").string()))
      << stopped.output;
  const auto skipped = run_command(command("depth", "nan_skip", "--set train.inject_nan_at=4 --set train.non_finite=skip"));
  ASSERT_EQ(skipped.exit_code, 0) << skipped.output;
  EXPECT_EQ(read_metrics(root() / "nan_skip/metrics.jsonl").at(6).at("skipped_batches"), 1);
  for (const auto& [name, tensor] : models::read_state_dict(root() / "nan_skip/model_final.safetensors")) {
    EXPECT_TRUE(torch::isfinite(tensor).all().item<bool>()) << name;
  }
}

TEST_F(TrainTeacher, TwoRanksOfBatchBMatchOneProcessOfBatchTwoBWithFrozenBatchNorm) {
  // Frozen batch norm: nothing depends on the batch's split across ranks but the summation order. Each rank reads
  // every other sample of the epoch's order (rank r: positions r, r + 2, ...), so a step of the two ranks sees
  // the same 8 images as a step of one process. SGD: Adam's division by the root of the second moment turns the
  // rounding differences of near-zero gradients into differences of a whole step.
  const std::string settings = "--set train.max_iterations=8 --set train.log_period=1 --set train.checkpoint_period=100 "
                               "--set model.backbone.frozen_batch_norm=true --set train.optimizer.type=sgd "
                               "--set train.optimizer.lr=0.02 --set train.optimizer.momentum=0.9";
  std::string one_process = command("classification", "batch8", settings + " --set data.loader.batch_size=8");
  one_process.replace(one_process.find("--threads 2"), 11, "--threads 1");
  const auto one = run_command(one_process);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  std::string two_ranks = command("classification", "batch4x2", settings + " --set data.loader.batch_size=4");
  two_ranks.replace(two_ranks.find("--threads 2"), 11, "--threads 1");
  const auto two = run_command(test::source_path("scripts/launch_local.sh").string() + " 2 -- " + two_ranks);
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(contains(two.output, "data parallel over 2 ranks")) << two.output;
  // Rank 0 alone logs: one metrics line per step.
  std::istringstream lines(read_file(root() / "batch4x2/metrics.jsonl"));
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) count += contains(line, "\"loss/total\"") ? 1 : 0;
  EXPECT_EQ(count, 8);
  expect_same_steps(read_metrics(root() / "batch8/metrics.jsonl"), read_metrics(root() / "batch4x2/metrics.jsonl"), 1, 8,
                    1e-5);
  expect_same_weights(root() / "batch8/model_final.safetensors", root() / "batch4x2/model_final.safetensors", 1e-5);
}

TEST_F(TrainTeacher, ARunOfTwoRanksResumesOnOne) {
  // Constant rate, so that stopping at step 3 and going on to 6 is the same schedule as 6 at once; 2 ranks x 4
  // images per step, then 1 process x 8: the same images per step (see the test above).
  const std::string settings = "--set train.log_period=1 --set train.checkpoint_period=3 --set train.schedule.type=constant "
                               "--set train.schedule.warmup_iterations=0 --set model.backbone.frozen_batch_norm=true "
                               "--set train.optimizer.type=sgd --set train.optimizer.lr=0.02 --set train.optimizer.momentum=0.9";
  auto on_ranks = [&](const std::string& output, const std::string& extra) {
    std::string two = command("classification", output, settings + " --set data.loader.batch_size=4 " + extra);
    two.replace(two.find("--threads 2"), 11, "--threads 1");
    return run_command(test::source_path("scripts/launch_local.sh").string() + " 2 -- " + two);
  };
  const auto straight = on_ranks("ranks_straight", "--set train.max_iterations=6");
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  const auto first = on_ranks("ranks_then_one", "--set train.max_iterations=3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  std::string one = command("classification", "ranks_then_one",
                            settings + " --set data.loader.batch_size=8 --set train.max_iterations=6 --resume");
  one.replace(one.find("--threads 2"), 11, "--threads 1");
  const auto resumed = run_command(one);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "checkpoint of 2 rank(s) x batch 4 resumed on 1 x 8: epoch 1 continues at batch 1"))
      << resumed.output;
  expect_same_steps(read_metrics(root() / "ranks_straight/metrics.jsonl"),
                    read_metrics(root() / "ranks_then_one/metrics.jsonl"), 4, 6, 1e-5);
  expect_same_weights(root() / "ranks_straight/model_final.safetensors",
                      root() / "ranks_then_one/model_final.safetensors", 1e-5);
}

// A batch with a label for every head of `model`, at 64 x 64.
structures::Targets random_targets(const models::MultiTaskModelOptions& model, int64_t batch, int64_t size) {
  structures::Targets targets;
  for (const auto& head : model.heads) {
    structures::TaskTargets t;
    t.present = torch::ones({batch}, torch::kBool);
    const int64_t classes = models::outputs_of(head);
    switch (task_spec(head.task).target) {
      case TargetKind::kClassVector: t.values = torch::softmax(torch::randn({batch, classes}), 1); break;
      case TargetKind::kClassMap: t.values = torch::randint(0, classes, {batch, size, size}, torch::kLong); break;
      case TargetKind::kFloatMap: t.values = torch::rand({batch, 1, size, size}) * 5 + 0.5; break;
      case TargetKind::kUnitVectorMap:
        t.values = torch::nn::functional::normalize(torch::randn({batch, 3, size, size}),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
        break;
      case TargetKind::kBoxes:
        for (int64_t i = 0; i < batch; ++i) {
          structures::Instances boxes;
          boxes.boxes = torch::tensor({{4.0f, 6.0f, 40.0f, 50.0f}});
          boxes.labels = torch::tensor({classes - 1}, torch::kLong);
          t.instances.push_back(boxes);
        }
        break;
    }
    targets.tasks[head.task] = t;
  }
  return targets;
}

// Every config under configs/ resolves against its tool's schema; every one with a model builds it (at a
// reduced width) and takes one training step on a random 64 x 64 batch labelled for its heads.
TEST(Configs, EveryConfigLoadsAndEveryModelTakesAStep) {
  int models_stepped = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(test::source_path("configs"))) {
    if (entry.path().extension() != ".yaml" || entry.path().string().find("_base_") != std::string::npos) continue;
    SCOPED_TRACE(entry.path().string());
    const std::string text = read_file(entry.path());
    if (contains(text, "\nworld:") || text.rfind("world:", 0) == 0) {
      config::Config::load(world::world_defaults(), entry.path());
      continue;
    }
    if (contains(text, "\nteachers:") || text.rfind("teachers:", 0) == 0) {  // must_pseudolabel's
      const auto c = config::Config::load(pipelines::pseudolabel_schema(), entry.path());
      for (const auto& task : c.keys("teachers")) {  // each teacher's config resolves and builds its model
        const auto teacher = config::Config::load(pipelines::teacher_schema(),
                                                  test::source_path(c.get_string("teachers." + task + ".config")));
        EXPECT_NO_THROW(models::model_options_from_config(teacher.at("model"))) << task;
      }
      data::dataset_options_from_config(c.at("input"));
      continue;
    }
    const bool student = contains(text, "\nsources:");  // must_train_student's, else must_train_teacher's or must_eval's
    const auto c = config::Config::load(student ? pipelines::student_schema() : pipelines::teacher_schema(),
                                        entry.path(),
                                        {"model.backbone.width_multiplier=0.125", "model.fpn_channels=16",
                                         "model.dense_channels=16", "model.detection.representation=32"});
    engine::train_options_from_config(c.at("train"));
    torch::manual_seed(0);
    const auto options = models::model_options_from_config(c.at("model"));
    losses::WeightingOptions weighting;
    for (const auto& head : options.heads) weighting.tasks.push_back(head.task);
    engine::TrainModule module(models::MultiTaskModel(options), losses::weighting_registry().create("fixed", weighting));
    auto optimizer = engine::make_optimizer(*module, engine::train_options_from_config(c.at("train")).optimizer);
    const structures::ImageList images{torch::randn({2, 3, 64, 64}), {{64, 64}, {64, 64}}};
    const engine::StepLosses losses = module->forward(images, random_targets(options, 2, 64));
    ASSERT_TRUE(std::isfinite(losses.total.item<double>()));
    losses.total.backward();
    optimizer->step();
    ++models_stepped;
  }
  EXPECT_GE(models_stepped, 20);
}

// A key a schema offers but nothing reads would be a setting that silently does nothing: every key of each tool's
// defaults is read by the tools' mapping functions for at least one shipped config.
TEST(Configs, EveryDefaultKeyIsConsumedSomewhere) {
  // Entries of open maps (heads, splits, distributions) count as one key each, whatever their name.
  auto normalise = [](const std::string& key) {
    for (const std::string open : {"model.heads.", "world.splits.", "world.distributions."}) {
      if (key.rfind(open, 0) != 0) continue;
      const std::string rest = key.substr(open.size());
      const size_t dot = rest.find('.');
      return open + "*" + (dot == std::string::npos ? "" : rest.substr(dot));
    }
    return key;
  };
  auto unread_after = [&](const config::Config& c) {
    std::set<std::string> out;
    for (const auto& key : c.unread_keys()) {
      if (key.find("_any_") == std::string::npos) out.insert(normalise(key));
    }
    return out;
  };
  std::optional<std::set<std::string>> never_read;
  for (const char* dir : {"configs/world/teachers", "configs/world/eval", "configs/paper/teachers", "configs/paper/benchmarks"}) {
    for (const auto& entry : std::filesystem::directory_iterator(test::source_path(dir))) {
      const auto c = config::Config::load(pipelines::teacher_schema(), entry.path());
      // What must_train_teacher and must_eval read.
      models::model_options_from_config(c.at("model"));
      data::training_datasets_from_config(c.at("data"));
      data::dataset_options_from_config(c.at("data.eval"));
      for (bool training : {true, false}) {
        data::transform_from_config(c.at("data.augment"), training);
        data::loader_options_from_config(c.at("data.loader"), training);
      }
      eval::evaluation_options_from_config(c.at("evaluation"), data::dataset_options_from_config(c.at("data.eval")));
      engine::train_options_from_config(c.at("train"));
      std::set<std::string> unread = unread_after(c);
      if (never_read) {
        std::set<std::string> both;
        std::set_intersection(never_read->begin(), never_read->end(), unread.begin(), unread.end(),
                              std::inserter(both, both.begin()));
        unread = std::move(both);
      }
      never_read = std::move(unread);
    }
  }
  ASSERT_TRUE(never_read.has_value());
  EXPECT_TRUE(never_read->empty()) << "read by no config: " << ::testing::PrintToString(*never_read);
  const auto world_config = config::Config::load(world::world_defaults(), test::source_path("configs/world/world.yaml"));
  world::world_options_from_config(world_config.at("world"));
  EXPECT_TRUE(unread_after(world_config).empty()) << ::testing::PrintToString(unread_after(world_config));
}

}  // namespace
}  // namespace must
