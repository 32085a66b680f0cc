// must_train_student as a user meets it, on the quick world: a store of the five quick teachers' labels (random
// weights: the labels' values do not matter here) beside a labelled split; the student trains on both and
// must_eval scores it on every task; 2 ranks of batch B match 1 process of batch 2B and a run of 2 ranks resumes
// on 1; a source of other images than its store's is refused naming the key; every key of the schema is read.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <set>

#include "must/config/config.h"
#include "must/core/fs.h"
#include "must/data/data_config.h"
#include "must/engine/train_config.h"
#include "must/eval/eval_config.h"
#include "must/models/model_config.h"
#include "must/models/state_dict_file.h"
#include "must/pipelines/student.h"
#include "test_support.h"
#include "train_support.h"

namespace must {
namespace {

using test::contains;
using test::expect_same_steps;
using test::read_metrics;
using test::run_command;
using test::tool_path;
namespace fs = std::filesystem;

const std::vector<std::string> kTasks = {"classification", "detection", "segmentation", "depth", "normals"};

class TrainStudent : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir();
    test::write_quick_world(root() / "world");
    const std::string teachers = test::write_random_quick_teachers(root() / "teachers");
    // Thresholds low enough that random teachers still leave boxes and class maps to learn from.
    test::write_text(root() / "pseudolabel.yaml",
                     teachers + "input: {format: world, root: " + (root() / "world").string() + ", split: unlabeled}\n" +
                         "data:\n  loader: {batch_size: 8, workers: 1}\nstore: {shard_size: 12}\n"
                         "policy: {detection: {score_threshold: 0.15}, segmentation: {confidence_threshold: 0.0}}\n");
    const auto labelled = run_command(tool_path("must_pseudolabel") + " --threads 2 --config " +
                                      (root() / "pseudolabel.yaml").string() + " --output-dir " +
                                      (root() / "labels").string());
    ASSERT_EQ(labelled.exit_code, 0) << labelled.output;
  }
  static void TearDownTestSuite() { delete dir_; }
  static const fs::path& root() { return dir_->path(); }
  // The quick student's settings pointing at this suite's world and store.
  static std::string paths() {
    const std::string world = (root() / "world").string();
    return " --set sources.world_unlabeled.store=" + (root() / "labels").string() +
           " --set sources.teacher_depth.dataset.root=" + world + " --set data.eval.root=" + world;
  }
  // must_train_student on the quick student config into root()/<output>, on `ranks` ranks of one thread each (0:
  // one process of 2 threads, without the launcher).
  static test::CommandResult train(int ranks, const std::string& output, const std::string& extra = "") {
    const std::string tool = tool_path("must_train_student") + (ranks == 0 ? " --threads 2" : " --threads 1") +
                             " --config " + test::source_path("configs/quick/student.yaml").string() + paths() +
                             " --output-dir " + (root() / output).string() + " " + extra;
    if (ranks == 0) return run_command(tool);
    return run_command(test::source_path("scripts/launch_local.sh").string() + " " + std::to_string(ranks) + " -- " + tool);
  }
  static test::ScratchDir* dir_;
};
test::ScratchDir* TrainStudent::dir_ = nullptr;

TEST_F(TrainStudent, TrainsOnAStoreAndALabelledSplitThenMustEvalScoresEveryTask) {
  const auto run = train(0, "student", "--set student.loss_weighting.type=paper");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // Epochs of 36 samples: 24 of the store and 12 of the depth split, shared 1 : 0.33.
  EXPECT_TRUE(contains(run.output, "source world_unlabeled: store " + (root() / "labels").string() +
                                       " (24 samples; classification, detection, segmentation, depth, normals): 27 "
                                       "samples per epoch"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "source teacher_depth: world:teacher_depth (12 samples; depth): 9 samples per epoch"))
      << run.output;
  // MuST's weighting (the world student's are fixed): the student's batch 4 and rate 0.002 against every teacher's 4
  // and 0.002 (their quick configs, as the store's manifest holds them).
  EXPECT_TRUE(contains(run.output, "loss weighting paper: classification 1, detection 1, segmentation 1, depth 1, "
                                   "normals 1"))
      << run.output;
  const auto metrics = read_metrics(root() / "student/metrics.jsonl");
  ASSERT_TRUE(metrics.count(6));
  for (const std::string& task : kTasks) {
    const std::string headline = "world_val/" + task + "/" + std::string(task_spec(task_from_name(task)).headline_metric);
    EXPECT_TRUE(metrics.at(6).count(headline)) << headline;
    EXPECT_TRUE(metrics.at(2).count("weight/" + task)) << task;
    bool has_loss = false;
    for (const auto& [key, value] : metrics.at(2)) has_loss = has_loss || key.rfind("loss/" + task + "/", 0) == 0;
    EXPECT_TRUE(has_loss) << task;
  }
  const auto eval = run_command(tool_path("must_eval") + " --threads 2 --config " +
                                test::source_path("configs/quick/student.yaml").string() + paths() + " --weights " +
                                (root() / "student/model_final.safetensors").string() + " --output-dir " +
                                (root() / "student_eval").string());
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const auto scored = nlohmann::json::parse(read_file(root() / "student_eval/metrics.json"));
  for (const std::string& task : kTasks) {
    EXPECT_TRUE(scored.contains("world_val/" + task + "/" + std::string(task_spec(task_from_name(task)).headline_metric)));
  }
}

TEST_F(TrainStudent, TwoRanksOfBatchBMatchOneProcessOfBatchTwoBAndARunOfTwoRanksResumesOnOne) {
  // The backbone's batch norm frozen, the heads' synchronised over the ranks, the detector's samples taken in order
  // (random draws depend on how the batch is split) and few enough that every image fills its quota (the detector's
  // losses are normalised by the samples of the rank's batch), every loss weighted 1, SGD at a constant rate (see the
  // teacher's tests): the only differences left are the order of summation. The rate is 0.001: at 0.01 the depth loss
  // (metres, up to the backdrop's 15) makes these 6 steps unstable enough that the order's 1e-7 differences grow to
  // 3e-4 in step 6's gradient norm. Ranks take alternate positions of each epoch's order, so a step of 2 ranks x 4 sees
  // the 8 samples of a step of 1 x 8. Epochs of 36 samples of the store's 24: the runs cross epoch boundaries. The
  // store alone: every sample then has every task with as many labelled pixels, boxes sampled, ..., so a rank's loss
  // normalisation (per rank, as DDP's) weighs samples as one process's does; with partial labels it would not.
  const std::string settings = "--set train.log_period=1 --set train.checkpoint_period=3 --set train.schedule.type=constant "
                               "--set train.schedule.warmup_iterations=0 --set model.backbone.frozen_batch_norm=true "
                               "--set train.sync_batch_norm=true --set model.detection.random_sampling=false "
                               "--set model.detection.rpn.batch_size_per_image=32 "
                               "--set model.detection.roi_heads.batch_size_per_image=8 "
                               "--set train.optimizer.type=sgd --set train.optimizer.lr=0.001 "
                               "--set train.optimizer.momentum=0.9 --set student.loss_weighting.type=fixed "
                               "--set 'student.loss_weighting.weights={_delete_: true}' "
                               "--set sources.teacher_depth.weight=0";
  const auto one = train(1, "batch8", settings + " --set data.loader.batch_size=8 --set train.max_iterations=6");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto two = train(2, "batch4x2", settings + " --set data.loader.batch_size=4 --set train.max_iterations=6");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(contains(two.output, "data parallel over 2 ranks")) << two.output;
  // The dense heads' 3 each: the only batch norms the frozen backbone leaves.
  EXPECT_TRUE(contains(two.output, "synchronised batch norm: 9 layer(s)")) << two.output;
  const auto expected = read_metrics(root() / "batch8/metrics.jsonl");
  expect_same_steps(expected, read_metrics(root() / "batch4x2/metrics.jsonl"), 1, 6, 1e-5);
  test::expect_same_weights(root() / "batch8/model_final.safetensors", root() / "batch4x2/model_final.safetensors", 1e-5);

  const auto first = train(2, "ranks_then_one", settings + " --set data.loader.batch_size=4 --set train.max_iterations=3");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto resumed =
      train(1, "ranks_then_one", settings + " --set data.loader.batch_size=8 --set train.max_iterations=6 --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "checkpoint of 2 rank(s) x batch 4 resumed on 1 x 8")) << resumed.output;
  expect_same_steps(expected, read_metrics(root() / "ranks_then_one/metrics.jsonl"), 4, 6, 1e-5);
  test::expect_same_weights(root() / "batch8/model_final.safetensors",
                            root() / "ranks_then_one/model_final.safetensors", 1e-5);
}

// torchrun's default (static) rendezvous, whose agent hosts the store: 2 workers train with parameters that stay
// bit-identical (the run checks and logs it); with --max_restarts=1, a worker SIGKILLed after the first checkpoint
// makes the agent restart the group, which resumes from that checkpoint (each rank its own random generators: the
// detector samples its anchors and RoIs at random) and ends with the uninterrupted run's weights, bit for bit.
TEST_F(TrainStudent, TorchrunsWorkersKeepTheSameParametersAndARestartedGroupEndsWithTheUninterruptedWeights) {
  const auto tool = [](const std::string& output) {
    return tool_path("must_train_student") + " --threads 1 --config " +
           test::source_path("configs/quick/student.yaml").string() + paths() + " --output-dir " +
           (root() / output).string() + " --set train.max_iterations=9 --set train.checkpoint_period=3";
  };
  const auto whole = run_command(test::torchrun(2, tool("torchrun_whole"), root() / "torchrun_whole_logs"));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_TRUE(contains(whole.output, "torchrun's store")) << whole.output;
  EXPECT_TRUE(contains(whole.output, "the 2 ranks hold bit-identical parameters")) << whole.output;

  // Once the checkpoint of iteration 3 is there, SIGKILL to the newest worker. The pattern is the worker's whole
  // command line, anchored: torchrun's own holds the same arguments, and other tests run the same tool meanwhile.
  const std::string alive = "kill -0 $launcher 2>/dev/null";
  const fs::path output = root() / "torchrun_restarted";
  const auto run = run_command(test::torchrun(2, tool("torchrun_restarted"), root() / "torchrun_restarted_logs",
                                              "--max_restarts=1 --monitor_interval=1") +
                               " > " + (root() / "torchrun_restarted.log").string() + " 2>&1 & launcher=$!; until [ -e " +
                               (output / "last_checkpoint").string() + " ] || ! " + alive +
                               "; do sleep 0.01; done; pkill -KILL -n -f -- '^" + tool("torchrun_restarted") +
                               "'; echo killed=$?; wait $launcher; echo launcher=$?");
  const std::string log = read_file(root() / "torchrun_restarted.log");
  SCOPED_TRACE(run.output + log);
  EXPECT_TRUE(contains(run.output, "killed=0"));
  ASSERT_TRUE(contains(run.output, "launcher=0"));
  EXPECT_TRUE(contains(log, "restart 1 of this run (TORCHELASTIC_RESTART_COUNT=1)"));
  EXPECT_TRUE(contains(log, "resumed at iteration"));
  EXPECT_TRUE(contains(log, "the 2 ranks hold bit-identical parameters"));
  test::expect_same_weights(root() / "torchrun_whole/model_final.safetensors", output / "model_final.safetensors", 0);
}

TEST_F(TrainStudent, ASourceOfOtherImagesThanItsStoreIsRefusedNamingTheKey) {
  const auto run = train(0, "other_images", "--set sources.world_unlabeled.dataset.root=" + (root() / "world").string() +
                                                " --set sources.world_unlabeled.dataset.split=val");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "key 'sources.world_unlabeled.store'")) << run.output;
  EXPECT_TRUE(contains(run.output, "was made from other images than world:val")) << run.output;
  EXPECT_FALSE(fs::exists(root() / "other_images/last_checkpoint"));
  const auto no_task = train(0, "no_task", "--set sources.teacher_depth.real_tasks=[normals]");
  EXPECT_EQ(no_task.exit_code, 2) << no_task.output;
  EXPECT_TRUE(contains(no_task.output, "key 'sources.teacher_depth.real_tasks': world:teacher_depth has no normals labels"))
      << no_task.output;
}

// A store whose depth teacher declared relative values (a TorchScript teacher's `depth: relative`; here the quick
// store's manifest says so): the depth head learns with the scale-and-shift-invariant loss where the config names
// none, and a loss that compares values (the world student's l1) is refused naming the key.
TEST_F(TrainStudent, RelativeDepthLabelsTakeTheScaleAndShiftInvariantLoss) {
  const fs::path store = root() / "relative_labels";
  fs::copy(root() / "labels", store, fs::copy_options::recursive);
  nlohmann::json manifest = nlohmann::json::parse(read_file(store / "manifest.json"));
  for (auto& teacher : manifest["teachers"]) {
    if (teacher["task"] == "depth") teacher["depth"] = "relative";
  }
  write_file(store / "manifest.json", manifest.dump(1));
  const std::string relative = "--set sources.world_unlabeled.store=" + store.string() + " --set train.max_iterations=2";
  const auto run = train(0, "relative", relative + " --set 'model.heads.depth.loss.type=\"\"'");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "are relative: the depth head learns with the ssi loss")) << run.output;
  EXPECT_TRUE(contains(read_file(root() / "relative/metrics.jsonl"), "loss/depth/ssi")) << read_file(root() / "relative/metrics.jsonl");
  const auto l1 = train(0, "relative_l1", relative);  // the world student's l1
  EXPECT_EQ(l1.exit_code, 2) << l1.output;
  EXPECT_TRUE(contains(l1.output, "key 'model.heads.depth.loss.type'")) << l1.output;
  EXPECT_TRUE(contains(l1.output, "use ssi")) << l1.output;
}

// As the teachers' schema (test_train_teacher.cpp): a key of must_train_student's own sections that nothing reads
// would be a setting that silently does nothing. The sections it shares with must_train_teacher (model, data,
// evaluation, train) are checked over every shipped config by Configs.EveryDefaultKeyIsConsumedSomewhere: some of
// their keys are read only in another mode (data.augment.resize.sizes when the mode is short_side).
TEST_F(TrainStudent, EveryKeyOfTheStudentSchemaIsRead) {
  const std::string world = (root() / "world").string();
  const auto c = config::Config::load(
      pipelines::student_schema(), test::source_path("configs/quick/student.yaml"),
      {"sources.world_unlabeled.store=" + (root() / "labels").string(), "sources.teacher_depth.dataset.root=" + world,
       "data.eval.root=" + world, "student.loss_weighting.weights.depth=2.0", "student.loss_weighting.teachers.depth.batch_size=8"});
  pipelines::student_training_data(c);  // sources and the student section
  models::model_options_from_config(c.at("model"));
  const auto eval_data = data::dataset_options_from_config(c.at("data.eval"));
  for (bool training : {true, false}) {
    data::transform_from_config(c.at("data.augment"), training);
    data::loader_options_from_config(c.at("data.loader"), training);
  }
  eval::evaluation_options_from_config(c.at("evaluation"), eval_data);
  engine::train_options_from_config(c.at("train"));
  std::set<std::string> unread;
  for (const auto& key : c.unread_keys()) {
    const bool own_section = key.rfind("sources.", 0) == 0 || key.rfind("student.", 0) == 0;
    if (own_section && key.find("_any_") == std::string::npos) unread.insert(key);
  }
  EXPECT_TRUE(unread.empty()) << ::testing::PrintToString(unread);
}

}  // namespace
}  // namespace must
