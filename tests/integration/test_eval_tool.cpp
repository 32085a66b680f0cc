// must_eval as a user meets it, on the quick world with weights saved from the library (random init).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <random>

#include "must/core/fs.h"
#include "must/data/data_config.h"
#include "must/data/dataset.h"
#include "must/data/decode.h"
#include "must/eval/eval_config.h"
#include "must/models/model_config.h"
#include "must/models/state_dict_file.h"
#include "must/pipelines/evaluate.h"
#include "nyu_mat.h"
#include "test_support.h"

namespace must {
namespace {

using test::run_command;
using test::tool_path;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
int count_lines(const std::string& text) { return int(std::count(text.begin(), text.end(), '\n')); }
// The error lines of a tool's output (the log lines before them carry a timestamp).
int error_lines(const std::string& output) {
  int count = 0;
  for (size_t at = 0; (at = output.find("must_eval: ", at)) != std::string::npos; ++at) {
    count += at == 0 || output[at - 1] == '\n';
  }
  return count;
}

class EvalTool : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir();
    test::write_quick_world(root() / "world");
    torch::manual_seed(0);
    save_weights(config({}), root() / "weights.safetensors");
  }
  static void TearDownTestSuite() { delete dir_; }

  static const std::filesystem::path& root() { return dir_->path(); }
  static config::Config config(const std::vector<std::string>& overrides) {
    std::vector<std::string> all = {"data.eval.root=" + (root() / "world").string()};
    all.insert(all.end(), overrides.begin(), overrides.end());
    return config::Config::load(pipelines::eval_schema(), test::source_path("configs/quick/eval.yaml"), all);
  }
  static void save_weights(const config::Config& c, const std::filesystem::path& file) {
    models::MultiTaskModel model(models::model_options_from_config(c.at("model")));
    models::write_safetensors(file, models::module_state_dict(*model));
  }
  static test::CommandResult eval(const std::string& arguments) {
    return run_command(tool_path("must_eval") + " --threads 2 --config " + test::source_path("configs/quick/eval.yaml").string() +
                       " --set data.eval.root=" + (root() / "world").string() + " " + arguments);
  }
  static nlohmann::json metrics(const std::string& run) {
    return nlohmann::json::parse(read_file(root() / run / "metrics.json"));
  }
  static test::ScratchDir* dir_;
};
test::ScratchDir* EvalTool::dir_ = nullptr;

TEST_F(EvalTool, ModelInitFromIsTheWeightsWhenNoneAreGivenAndAnotherFileIsRefused) {
  const std::string weights = (root() / "weights.safetensors").string();
  const auto from_config = eval("--set model.init_from=" + weights + " --output-dir " + (root() / "init_from").string());
  ASSERT_EQ(from_config.exit_code, 0) << from_config.output;
  const auto given = eval("--weights " + weights + " --output-dir " + (root() / "given").string());
  ASSERT_EQ(given.exit_code, 0) << given.output;
  EXPECT_EQ(metrics("init_from"), metrics("given"));
  const auto both = eval("--set model.init_from=" + weights + " --weights " + (root() / "other.safetensors").string() +
                         " --output-dir " + (root() / "both").string());
  EXPECT_NE(both.exit_code, 0);
  EXPECT_TRUE(contains(both.output, "model.init_from")) << both.output;
  EXPECT_TRUE(contains(both.output, "give the weights to evaluate once")) << both.output;
  const auto neither = eval("--output-dir " + (root() / "neither").string());
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_TRUE(contains(neither.output, "no weights to evaluate: give --weights FILE (or model.init_from)")) << neither.output;
}

TEST_F(EvalTool, WritesEveryTaskAndItsSavedPredictionsScoreTheSame) {
  // Images resized to 48 x 48 for the model: predictions map back to the 32 x 32 labels.
  const std::string resize = " --set data.augment.resize.mode=fixed --set data.augment.resize.size=[48,48]";
  const auto run = eval("--weights " + (root() / "weights.safetensors").string() + " --output-dir " +
                        (root() / "run").string() + " --save-predictions" + resize);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(contains(run.output, "world_val: 16 images")) << run.output;
  EXPECT_TRUE(contains(run.output, "Average Precision  (AP) @[ IoU=0.50:0.95")) << run.output;
  const auto direct = metrics("run");
  for (const char* key : {"world_val/classification/top1", "world_val/classification/top5", "world_val/detection/AP",
                          "world_val/detection/AP50", "world_val/detection/ARl", "world_val/segmentation/mIoU",
                          "world_val/segmentation/pixel_accuracy", "world_val/depth/AbsRel", "world_val/depth/delta1",
                          "world_val/normals/mean_angle", "world_val/normals/within_30"}) {
    EXPECT_TRUE(direct.contains(key)) << key << "\n" << direct.dump(1);
  }
  EXPECT_EQ(direct["world_val/segmentation/images"], 16);
  EXPECT_TRUE(std::filesystem::exists(root() / "run/metrics.jsonl"));

  // Saved predictions read back: the COCO results use the ground truth's category ids, maps have the labels' size.
  const auto truth = nlohmann::json::parse(read_file(root() / "world/val/detection.json"));
  std::set<int64_t> categories;
  for (const auto& c : truth["categories"]) categories.insert(c["id"].get<int64_t>());
  const auto results = nlohmann::json::parse(read_file(root() / "run/predictions/detection.json"));
  ASSERT_TRUE(results.is_array());
  for (const auto& r : results) EXPECT_TRUE(categories.count(r["category_id"].get<int64_t>())) << r.dump();
  for (const char* task : {"segmentation", "depth", "normals"}) {
    const torch::Tensor map = data::read_png_samples(root() / "run/predictions" / task / "000003.png");
    EXPECT_EQ(map.size(0), 32) << task;
    EXPECT_EQ(map.size(1), 32) << task;
  }
  EXPECT_EQ(count_lines(read_file(root() / "run/predictions/classification.jsonl")), 16);

  // Scoring what it saved gives the numbers of the run that saved them.
  const auto score = eval("score --predictions " + (root() / "run/predictions").string() + " --output-dir " +
                          (root() / "scored").string());
  ASSERT_EQ(score.exit_code, 0) << score.output;
  const auto scored = metrics("scored");
  for (const auto& [key, value] : direct.items()) {
    ASSERT_TRUE(scored.contains(key)) << key;
    if (value.is_null()) {
      EXPECT_TRUE(scored[key].is_null()) << key;
    } else {
      EXPECT_NEAR(scored[key].get<double>(), value.get<double>(), 1e-9) << key;
    }
  }
}

// Detections written as a COCO results file by "another tool" score as the evaluator fed them in memory.
TEST_F(EvalTool, CocoResultsFileScoresAsInMemory) {
  const auto c = config({"evaluation.tasks=[detection]"});
  data::DatasetOptions options;
  options.format = "world";
  options.root = root() / "world";
  options.split = "val";
  const auto dataset = data::make_dataset(options);
  eval::EvaluatorContext context;
  context.class_names = dataset->info().class_names.at(Task::kDetection);
  auto evaluator = eval::make_evaluator(Task::kDetection, context);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> unit(0, 1);
  nlohmann::json results = nlohmann::json::array();
  for (int64_t i = 0; i < dataset->size(); ++i) {
    const data::Sample sample = dataset->get(i);
    eval::ImagePrediction prediction;
    for (const auto& truth : eval::ground_truth_boxes(*sample.instances)) {  // near-misses and hits, then noise
      eval::BoxXywh box = truth.box;
      box.x += (unit(rng) - 0.5) * box.w * 0.4;
      box.w *= 0.8 + 0.4 * unit(rng);
      prediction.detections.push_back({truth.category, box, unit(rng)});
    }
    prediction.detections.push_back({int64_t(i % 5), {unit(rng) * 20, unit(rng) * 20, 4 + unit(rng) * 8, 4 + unit(rng) * 8}, unit(rng)});
    for (const auto& d : prediction.detections) {
      results.push_back({{"image_id", dataset->info().image_ids[size_t(i)]}, {"category_id", dataset->info().category_ids[size_t(d.category)]},
                         {"bbox", {d.box.x, d.box.y, d.box.w, d.box.h}}, {"score", d.score}});
    }
    evaluator->process(prediction, sample, dataset->info().image_ids[size_t(i)]);
  }
  const eval::MetricValues in_memory = evaluator->evaluate();
  write_file(root() / "results.json", results.dump());
  const auto score = eval("score --predictions " + (root() / "results.json").string() + " --output-dir " +
                          (root() / "coco_scored").string());
  ASSERT_EQ(score.exit_code, 0) << score.output;
  const auto scored = metrics("coco_scored");
  EXPECT_GT(in_memory.at("AP50"), 10);  // the detections hit something
  for (const auto& [name, value] : in_memory) {
    const std::string key = "world_val/detection/" + name;
    ASSERT_TRUE(scored.contains(key)) << key;
    if (std::isnan(value)) {
      EXPECT_TRUE(scored[key].is_null()) << key;
    } else {
      EXPECT_DOUBLE_EQ(scored[key].get<double>(), value) << key;
    }
  }
  // The same results with string image ids, as tools write them: the id in decimal, the file name, the end of
  // the path. They score the same.
  nlohmann::json named = results;
  std::map<int64_t, int64_t> index_of_id;
  for (int64_t i = 0; i < dataset->size(); ++i) index_of_id[dataset->info().image_ids[size_t(i)]] = i;
  for (size_t r = 0; r < named.size(); ++r) {
    const int64_t id = named[r]["image_id"].get<int64_t>();
    const std::filesystem::path source = dataset->source(index_of_id.at(id));
    const std::string forms[] = {std::to_string(id), source.filename().string(),
                                 (source.parent_path().filename() / source.filename()).generic_string()};
    named[r]["image_id"] = forms[r % 3];
  }
  write_file(root() / "named_results.json", named.dump());
  const auto by_name = eval("score --predictions " + (root() / "named_results.json").string() + " --output-dir " +
                            (root() / "coco_named").string());
  ASSERT_EQ(by_name.exit_code, 0) << by_name.output;
  EXPECT_EQ(metrics("coco_named"), scored);
  named[0]["image_id"] = "no_such_image.png";
  write_file(root() / "named_results.json", named.dump());
  const auto unknown = eval("score --predictions " + (root() / "named_results.json").string() + " --output-dir " +
                            (root() / "coco_named_bad").string());
  EXPECT_TRUE(contains(unknown.output, "detection 0 has image_id \"no_such_image.png\", which the dataset does not have"))
      << unknown.output;
}

TEST_F(EvalTool, BadInputExitsWithOneLineNamingTheFileOrKey) {
  const std::string out = " --output-dir " + (root() / "bad").string();
  const auto missing = eval("--weights " + (root() / "nowhere.safetensors").string() + out);
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_EQ(error_lines(missing.output), 1) << missing.output;
  EXPECT_TRUE(contains(missing.output, "nowhere.safetensors")) << missing.output;

  save_weights(config({"model.heads.segmentation.num_outputs=9"}), root() / "nine.safetensors");
  const auto shapes = eval("--weights " + (root() / "nine.safetensors").string() + out);
  EXPECT_EQ(shapes.exit_code, 1) << shapes.output;
  EXPECT_EQ(error_lines(shapes.output), 1) << shapes.output;
  EXPECT_TRUE(contains(shapes.output, "nine.safetensors")) << shapes.output;
  EXPECT_TRUE(contains(shapes.output, "heads.segmentation.predictor.weight")) << shapes.output;

  const auto unlabelled = eval("--weights " + (root() / "weights.safetensors").string() +
                               " --set data.eval.split=teacher_depth --set evaluation.tasks=[segmentation]" + out);
  EXPECT_EQ(unlabelled.exit_code, 2) << unlabelled.output;
  EXPECT_EQ(error_lines(unlabelled.output), 1) << unlabelled.output;
  EXPECT_TRUE(contains(unlabelled.output, "key 'evaluation.tasks'")) << unlabelled.output;
  EXPECT_TRUE(contains(unlabelled.output, "has no segmentation labels")) << unlabelled.output;

  const auto no_weights = eval(out);
  EXPECT_EQ(no_weights.exit_code, 2) << no_weights.output;
  EXPECT_TRUE(contains(no_weights.output, "--weights")) << no_weights.output;

  // Empty paths and lists name the key and say "none".
  const std::string weights = " --weights " + (root() / "weights.safetensors").string();
  const auto no_root = eval(weights + " --set data.eval.root=" + out);
  EXPECT_EQ(error_lines(no_root.output), 1) << no_root.output;
  EXPECT_TRUE(contains(no_root.output, "world: none given (set data.eval.root)")) << no_root.output;
  const auto no_file = eval(weights + " --set data.eval.format=coco --set data.eval.annotations=" + out);
  EXPECT_TRUE(contains(no_file.output, "COCO annotation file: none given (set data.eval.annotations)")) << no_file.output;
  const auto no_labels = eval(weights + " --set data.eval.format=images --set data.eval.root=" +
                              (root() / "world" / "val" / "images").string() + " --set data.eval.split= --set evaluation.tasks=[depth]" + out);
  EXPECT_TRUE(contains(no_labels.output, "has no depth labels (it has: none)")) << no_labels.output;

  // A damaged file's bytes quoted in the error line are escaped, not sent to the terminal.
  std::filesystem::create_directories(root() / "damaged");
  write_file(root() / "damaged" / "predictions.json", "{\"version\": \"red\xff\xfe\"}");
  const auto damaged = eval("score --predictions " + (root() / "damaged").string() + out);
  EXPECT_EQ(error_lines(damaged.output), 1) << damaged.output;
  EXPECT_TRUE(contains(damaged.output, "last read: '\"red\\xff')")) << damaged.output;
  EXPECT_FALSE(contains(damaged.output, "\xff")) << damaged.output;
}

TEST_F(EvalTool, PredictDrawsEveryImageAndWritesWhatEvaluationSaves) {
  const std::string weights = " --weights " + (root() / "weights.safetensors").string();
  const auto saved = eval(weights + " --save-predictions --output-dir " + (root() / "saved").string());
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  const auto predicted = eval("predict --images " + (root() / "world" / "val" / "images").string() + weights +
                              " --visualize --output-dir " + (root() / "predicted").string());
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_TRUE(contains(predicted.output, "wrote 16 images' predictions")) << predicted.output;
  for (int64_t i = 0; i < 16; ++i) {
    const auto picture = root() / "predicted" / "pictures" / fmt::format("{:06d}.png", i);
    ASSERT_TRUE(std::filesystem::exists(picture)) << picture;
    const auto decoded = data::decode_rgb(read_file(picture), picture.string());
    EXPECT_EQ(decoded.sizes(), (std::vector<int64_t>{256, 4 * 256, 3}));  // image, segmentation, depth, normals
    // The world's validation images carry every label, so evaluation saved the same maps at the same size.
    for (const char* task : {"segmentation", "depth", "normals"}) {
      const auto name = std::filesystem::path(task) / fmt::format("{:06d}.png", i);
      EXPECT_EQ(read_file(root() / "predicted" / "predictions" / name), read_file(root() / "saved" / "predictions" / name))
          << name;
    }
  }
  EXPECT_TRUE(std::filesystem::exists(root() / "predicted" / "pictures" / "sheet.png"));
  const auto a = nlohmann::json::parse(read_file(root() / "predicted" / "predictions" / "detection.json"));
  const auto b = nlohmann::json::parse(read_file(root() / "saved" / "predictions" / "detection.json"));
  EXPECT_EQ(a.size(), b.size());
}

TEST_F(EvalTool, ScoreNeedsNoModelSection) {
  const auto saved = eval("--weights " + (root() / "weights.safetensors").string() + " --set evaluation.tasks=[depth]" +
                          " --save-predictions --output-dir " + (root() / "depth_run").string());
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  const auto config = root() / "no_model.yaml";
  write_file(config, "data:\n  eval: {format: world, root: " + (root() / "world").string() +
                         ", split: val}\nevaluation: {name: world_val, tasks: [depth], depth: {max_depth: 20.0}}\n");
  const auto scored = run_command(tool_path("must_eval") + " score --config " + config.string() + " --predictions " +
                                  (root() / "depth_run" / "predictions").string() + " --output-dir " +
                                  (root() / "no_model").string());
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  EXPECT_EQ(metrics("no_model")["world_val/depth/AbsRel"], metrics("depth_run")["world_val/depth/AbsRel"]);
}

TEST_F(EvalTool, ReportComparesRuns) {
  for (const char* run : {"a", "b"}) {
    test::write_text(root() / run / "metrics.json",
                     std::string(R"({"world_val/depth/AbsRel": )") + (run[0] == 'a' ? "0.2" : "0.1") +
                         R"(, "world_val/segmentation/mIoU": 40.0})");
  }
  const auto report = run_command(tool_path("must_eval") + " report " + (root() / "a").string() + " " +
                                  (root() / "b").string() + " --output " + (root() / "report/compare.md").string());
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_TRUE(contains(read_file(root() / "report/compare.md"), "**0.1000**"));
  EXPECT_FALSE(data::read_png_samples(root() / "report/compare.png").numel() == 0);
  const auto missing = run_command(tool_path("must_eval") + " report " + (root() / "nothing").string() + " --output " +
                                   (root() / "r.md").string());
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_TRUE(contains(missing.output, "nothing/metrics.json")) << missing.output;
}

// The transfer protocol: the 5-head checkpoint's backbone under a fresh depth head, trained on the quick world's
// downstream split and scored on its downstream validation split.
TEST_F(EvalTool, FinetuneTakesTheBackboneTrainsAFreshHeadAndResumesToTheSameMetrics) {
  const std::string world = (root() / "world").string();
  auto finetune = [&](const std::string& run, const std::string& weights, const std::string& extra) {
    return tool_path("must_eval") + " --mode finetune --threads 2 --config " +
           test::source_path("configs/world/eval/downstream_depth.yaml").string() + " --weights " + weights +
           " --output-dir " + (root() / run).string() + " --set data.train.root=" + world + " --set data.eval.root=" +
           world + " --set train.epochs=0 --set train.max_iterations=16 --set train.checkpoint_period=2" +
           " --set train.log_period=1 --set data.loader.batch_size=4 --set data.loader.workers=1" +
           " --set evaluation.progress_seconds=0 " + extra;
  };
  const std::string student = (root() / "weights.safetensors").string();
  const auto straight = run_command(finetune("ft_straight", student, ""));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  EXPECT_TRUE(contains(straight.output, "only backbone.")) << straight.output;
  EXPECT_TRUE(contains(straight.output, "left out")) << straight.output;  // the checkpoint's five heads
  EXPECT_TRUE(contains(straight.output, "world_downstream: 8 images")) << straight.output;
  const auto expected = metrics("ft_straight");
  ASSERT_TRUE(expected.contains("world_downstream/depth/AbsRel")) << expected.dump(1);
  // The backbone came from the checkpoint and was then trained; the head is not the checkpoint's.
  const auto source = models::read_state_dict(student);
  const auto tuned = models::read_state_dict(root() / "ft_straight/model_final.safetensors");
  for (const auto& [name, tensor] : tuned) EXPECT_TRUE(name.rfind("heads.depth.", 0) == 0 || name.rfind("heads.", 0) != 0) << name;

  // Killed after a checkpoint, then resumed: the same final metrics as the run that went straight through.
  const auto killed_dir = root() / "ft_killed";
  const auto killed = run_command("(" + finetune("ft_killed", student, "") + " > " + (root() / "ft_killed.log").string() +
                                  " 2>&1 & pid=$!; until grep -qs '\"iteration\": \\([4-9]\\|1[0-9]\\)' " +
                                  (killed_dir / "last_checkpoint").string() +
                                  "; do sleep 0.01; done; kill -9 $pid; wait $pid; echo killed $?)");
  ASSERT_TRUE(contains(killed.output, "killed 137")) << killed.output << read_file(root() / "ft_killed.log");
  ASSERT_FALSE(std::filesystem::exists(killed_dir / "metrics.json")) << "the run ended before the kill";
  const auto resumed = run_command(finetune("ft_killed", student, "--resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "resumed at iteration")) << resumed.output;
  EXPECT_EQ(metrics("ft_killed"), expected);

  // A linear probe: the backbone, batch-norm statistics included, ends as it was loaded.
  const auto probe = run_command(finetune("ft_probe", student, "--set model.frozen_modules=[backbone]"));
  ASSERT_EQ(probe.exit_code, 0) << probe.output;
  std::map<std::string, torch::Tensor> loaded(source.begin(), source.end());
  int compared = 0;
  for (const auto& [name, tensor] : models::read_state_dict(root() / "ft_probe/model_final.safetensors")) {
    if (name.rfind("backbone.", 0) != 0) continue;
    EXPECT_TRUE(torch::equal(tensor, loaded.at(name))) << name;
    ++compared;
  }
  EXPECT_GT(compared, 50);

  const auto scratch = run_command(finetune("ft_scratch", "none", ""));
  ASSERT_EQ(scratch.exit_code, 0) << scratch.output;
  EXPECT_TRUE(contains(scratch.output, "from scratch")) << scratch.output;
  EXPECT_FALSE(contains(scratch.output, "init from")) << scratch.output;
  const auto wrong = run_command(finetune("ft_wrong", student, "--set model.frozen_modules=[trunk]"));
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_TRUE(contains(wrong.output, "model.frozen_modules: 'trunk'")) << wrong.output;
}

}  // namespace
}  // namespace must

namespace must {
namespace {

// Every evaluation config resolves against must_eval's schema, and its model and evaluation sections map to
// options (the benchmark readers themselves need the datasets, which are not shipped).
TEST(EvalConfigs, EveryEvaluationConfigLoads) {
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"configs/paper/benchmarks", "configs/world/eval"}) {
    for (const auto& entry : std::filesystem::directory_iterator(test::source_path(dir))) files.push_back(entry.path());
  }
  ASSERT_GE(files.size(), 8u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const auto c = config::Config::load(pipelines::eval_schema(), file);
    const auto model = models::model_options_from_config(c.at("model"));
    EXPECT_FALSE(model.heads.empty());
    const auto dataset = data::dataset_options_from_config(c.at("data.eval"));
    const auto options = eval::evaluation_options_from_config(c.at("evaluation"), dataset);
    EXPECT_FALSE(options.dataset_name.empty());
    for (Task task : options.tasks) {
      bool has_head = false;
      for (const auto& head : model.heads) has_head = has_head || head.task == task;
      EXPECT_TRUE(has_head) << task_name(task);
    }
  }
}

// Each paper benchmark's datasets — training (with its extra parts), evaluation — open format-exact fixtures of
// their formats under the config's own split names (tests/data/make_data_fixtures.py: the config's paths under
// data/ are taken under the fixtures' folder), and the config's training and evaluation transforms apply to what
// they read. The datasets themselves are not shipped; the models are built and stepped by
// Configs.EveryConfigLoadsAndEveryModelTakesAStep.
TEST(EvalConfigs, EachPaperBenchmarkReadsFixturesOfItsFormats) {
  namespace fs = std::filesystem;
  test::ScratchDir dir;
  test::copy_cached_fixtures("data", test::source_path("tests/data/make_data_fixtures.py"), dir.path());
  test::write_nyu_mat(dir.path() / "nyu/nyu_depth_v2_labeled.mat", torch::randint(0, 256, {2, 3, 40, 32}, torch::kUInt8),
                      torch::rand({2, 40, 32}) * 9 + 0.5);
  test::write_text(dir.path() / "nyu/test_indices.txt", "2\n1\n");
  auto fixture = [&](const fs::path& path) {
    const std::string text = path.string();
    return text.rfind("data/", 0) == 0 ? dir.path() / text.substr(5) : path;
  };
  int configs = 0;
  for (const auto& entry : fs::directory_iterator(test::source_path("configs/paper/benchmarks"))) {
    SCOPED_TRACE(entry.path().string());
    const auto c = config::Config::load(pipelines::eval_schema(), entry.path());
    std::vector<data::DatasetOptions> train = data::training_datasets_from_config(c.at("data"));
    std::vector<data::DatasetOptions> evaluated = {data::dataset_options_from_config(c.at("data.eval"))};
    const auto evaluation = eval::evaluation_options_from_config(c.at("evaluation"), evaluated.front());
    for (auto* parts : {&train, &evaluated}) {
      for (auto& options : *parts) {
        options.root = fixture(options.root);
        if (!options.annotations.empty()) options.annotations = fixture(options.annotations);
        if (options.split.find('/') != std::string::npos) options.split = fixture(options.split).string();
      }
      const bool training = parts == &train;
      const auto dataset = data::make_dataset(*parts);
      int64_t parts_size = 0;
      for (const auto& options : *parts) parts_size += data::make_dataset(options)->size();
      ASSERT_GT(dataset->size(), 0) << dataset->info().name;
      EXPECT_EQ(dataset->size(), parts_size) << dataset->info().name;
      const auto transform = data::transform_from_config(c.at("data.augment"), training);
      std::mt19937_64 rng(0);
      data::Sample sample = dataset->get(dataset->size() - 1);  // the last part's last sample
      sample.decode();
      transform->apply(sample, rng);
      EXPECT_EQ(sample.image.dim(), 3) << dataset->info().name;
      EXPECT_EQ(sample.image.size(0), 3) << dataset->info().name;
      for (Task task : evaluation.tasks) EXPECT_TRUE(sample.has(task)) << dataset->info().name << " " << task_name(task);
    }
    ++configs;
  }
  EXPECT_EQ(configs, 7);
}

}  // namespace
}  // namespace must
