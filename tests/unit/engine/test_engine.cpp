// The training engine: schedules, parameter groups, EMA, checkpoints (whole, damaged, kept), the trainer's
// non-finite guard and an exact resume.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/engine/checkpoint.h"
#include "must/engine/ema.h"
#include "must/engine/hooks.h"
#include "must/engine/optimizer.h"
#include "must/engine/trainer.h"
#include "test_support.h"

namespace must::engine {
namespace {

TEST(LrSchedule, WarmupThenDecay) {
  LrScheduleOptions o;
  o.type = "cosine";
  o.warmup_iterations = 10;
  o.warmup_factor = 0.1;
  EXPECT_DOUBLE_EQ(lr_factor(o, 0, 100), 0.1);                                    // warm-up start
  EXPECT_NEAR(lr_factor(o, 5, 100), (0.1 * 0.5 + 0.5) * 0.5 * (1 + std::cos(M_PI * 0.05)), 1e-12);
  EXPECT_NEAR(lr_factor(o, 50, 100), 0.5, 1e-12);                                 // half way down the cosine
  EXPECT_NEAR(lr_factor(o, 100, 100), 0.0, 1e-12);
  o.final_factor = 0.1;
  EXPECT_NEAR(lr_factor(o, 100, 100), 0.1, 1e-12);
  o = {};
  o.type = "step";
  o.steps = {30, 60};
  EXPECT_DOUBLE_EQ(lr_factor(o, 29, 100), 1.0);
  EXPECT_NEAR(lr_factor(o, 30, 100), 0.1, 1e-15);
  EXPECT_NEAR(lr_factor(o, 99, 100), 0.01, 1e-15);
  o.type = "poly";
  EXPECT_NEAR(lr_factor(o, 50, 100), std::pow(0.5, 0.9), 1e-12);
  o.type = "linear";
  EXPECT_THROW(lr_factor(o, 0, 10), ConfigError);
}

TEST(Optimizer, NoWeightDecayOnNormAndBias) {
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)), torch::nn::BatchNorm2d(4),
                            torch::nn::Linear(4, 2));
  OptimizerOptions options;
  options.weight_decay = 0.1;
  auto sgd = make_optimizer(*net, options);
  ASSERT_EQ(sgd->param_groups().size(), 2u);
  EXPECT_EQ(sgd->param_groups()[0].params().size(), 2u);  // conv and linear weights
  EXPECT_EQ(sgd->param_groups()[1].params().size(), 4u);  // conv bias, bn weight and bias, linear bias
  EXPECT_EQ(static_cast<torch::optim::SGDOptions&>(sgd->param_groups()[1].options()).weight_decay(), 0.0);
  options.type = "adamw";
  auto adamw = make_optimizer(*net, options);
  EXPECT_EQ(static_cast<torch::optim::AdamWOptions&>(adamw->param_groups()[0].options()).weight_decay(), 0.1);
  options.lr = 0.5;
  set_learning_rate(*adamw, options, 0.1);
  EXPECT_DOUBLE_EQ(adamw->param_groups()[1].options().get_lr(), 0.05);
  options.type = "lamb";
  EXPECT_THROW(make_optimizer(*net, options), ConfigError);
}

TEST(Optimizer, LearningRateMultipliersByParameterName) {
  torch::nn::Sequential net(torch::nn::Linear(2, 2), torch::nn::Linear(2, 2));  // parameters 0.weight ... 1.bias
  OptimizerOptions options;
  options.lr = 0.1;
  options.lr_multipliers = {{"1.", 0.5}};
  auto sgd = make_optimizer(*net, options);
  ASSERT_EQ(sgd->param_groups().size(), 4u);  // (1: decayed, not), (0.5: decayed, not)
  EXPECT_TRUE(sgd->param_groups()[0].params()[0].is_same(net[0]->named_parameters()["weight"]));
  EXPECT_TRUE(sgd->param_groups()[1].params()[0].is_same(net[0]->named_parameters()["bias"]));
  EXPECT_TRUE(sgd->param_groups()[2].params()[0].is_same(net[1]->named_parameters()["weight"]));
  EXPECT_TRUE(sgd->param_groups()[3].params()[0].is_same(net[1]->named_parameters()["bias"]));
  EXPECT_DOUBLE_EQ(sgd->param_groups()[2].options().get_lr(), 0.05);
  set_learning_rate(*sgd, options, 0.1);
  EXPECT_DOUBLE_EQ(sgd->param_groups()[0].options().get_lr(), 0.01);
  EXPECT_DOUBLE_EQ(sgd->param_groups()[3].options().get_lr(), 0.005);
  EXPECT_EQ(static_cast<torch::optim::SGDOptions&>(sgd->param_groups()[3].options()).weight_decay(), 0.0);
  // A frozen part leaves its groups empty; the rates still line up.
  for (auto& p : net[1]->parameters()) p.set_requires_grad(false);
  auto without = make_optimizer(*net, options);
  ASSERT_EQ(without->param_groups().size(), 4u);
  EXPECT_TRUE(without->param_groups()[2].params().empty());
  OptimizerOptions other = options;
  other.lr_multipliers.clear();
  EXPECT_THROW(set_learning_rate(*without, other, 1.0), Error);
}

TEST(ModelEma, AveragesAndSwaps) {
  torch::nn::Linear net(1, 1);
  torch::NoGradGuard no_grad;
  net->weight.fill_(1.0);
  ModelEma ema(*net, 0.9);
  net->weight.fill_(2.0);
  ema.update(*net);
  EXPECT_NEAR(ema.state()[0].second.item<float>(), 0.9 * 1 + 0.1 * 2, 1e-6);
  ema.swap_into(*net);
  EXPECT_NEAR(net->weight.item<float>(), 1.1, 1e-6);
  ema.swap_into(*net);
  EXPECT_NEAR(net->weight.item<float>(), 2.0, 1e-6);
}

TEST(CheckpointStore, KeepsTheNewestAndFallsBackPastADamagedOne) {
  test::ScratchDir dir;
  CheckpointStore store(dir.path(), 2);
  EXPECT_FALSE(store.load_latest().has_value());
  for (int64_t i : {10, 20, 30}) store.save(i, {{{"x", torch::full({3}, float(i))}}, {{"iteration", std::to_string(i)}}});
  EXPECT_FALSE(std::filesystem::exists(dir / "checkpoint_00000010.safetensors"));  // beyond keep = 2
  auto latest = store.load_latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->metadata.at("iteration"), "30");
  // Cut the newest short: it is reported and the one before is used.
  const auto newest = dir / "checkpoint_00000030.safetensors";
  const std::string bytes = read_file(newest);
  write_file(newest, bytes.substr(0, bytes.size() - 5));
  latest = store.load_latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->metadata.at("iteration"), "20");
  EXPECT_EQ(latest->tensors.at(0).second[0].item<float>(), 20);
  // Every one damaged: an error naming them.
  const auto older = dir / "checkpoint_00000020.safetensors";
  std::string changed = read_file(older);
  changed[changed.size() - 1] ^= 1;
  write_file(older, changed);
  try {
    store.load_latest();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint_00000030.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("every older one is damaged"), std::string::npos) << e.what();
  }
}

TEST(LossScaler, BacksOffOnOverflowSkipsTheStepAndGrows) {
  LossScalerOptions options;
  options.initial_scale = 1024;
  options.growth_interval = 3;
  LossScaler scaler(/*enabled=*/true, options);
  torch::Tensor weight = torch::ones({2}, torch::requires_grad());
  scaler.scale_loss((weight * torch::tensor({3.0f, 5.0f})).sum()).backward();
  EXPECT_TRUE(torch::equal(weight.grad(), torch::tensor({3072.0f, 5120.0f})));
  scaler.unscale({weight});
  EXPECT_TRUE(torch::equal(weight.grad(), torch::tensor({3.0f, 5.0f})));  // powers of two: exact

  EXPECT_FALSE(scaler.update(/*gradients_finite=*/false));  // overflow: no step, half the scale
  EXPECT_EQ(scaler.scale(), 512);
  EXPECT_TRUE(scaler.update(true));
  EXPECT_TRUE(scaler.update(true));
  EXPECT_EQ(scaler.scale(), 512);
  EXPECT_TRUE(scaler.update(true));  // the third good step in a row doubles it
  EXPECT_EQ(scaler.scale(), 1024);
  EXPECT_EQ(scaler.good_steps(), 0);

  LossScaler off(/*enabled=*/false, options);
  EXPECT_EQ(off.scale(), 1);
  EXPECT_FALSE(off.update(false));  // disabled, it only passes the verdict on
  EXPECT_TRUE(off.update(true));
  EXPECT_EQ(off.scale(), 1);
}

TEST(Precision, NamesAndDevices) {
  EXPECT_EQ(precision_from_name("bf16"), Precision::kBFloat16);
  EXPECT_EQ(precision_name(Precision::kFloat16), "fp16");
  EXPECT_THROW(precision_from_name("fp8"), ConfigError);
  EXPECT_EQ(effective_precision(Precision::kFloat16, torch::kCPU), Precision::kFloat32);
  EXPECT_EQ(effective_precision(Precision::kBFloat16, torch::Device(torch::kCUDA, 0)), Precision::kBFloat16);
  {
    AutocastScope fp32(Precision::kFloat32);  // nothing to switch on
  }
}

// 16 x 16 patterned images whose class is the brightest colour channel (no random draws: the loader's threads
// must not touch the global generator the trainer restores).
class ColourDataset final : public data::Dataset {
 public:
  ColourDataset() {
    info_.name = "colours";
    info_.tasks = {Task::kClassification};
    info_.class_names[Task::kClassification] = {"red", "green", "blue"};
  }
  int64_t size() const override { return 24; }
  data::Sample get(int64_t index) const override {
    data::Sample sample;
    sample.source = "colour" + std::to_string(index);
    sample.image = (torch::arange(16 * 16 * 3, torch::kLong).view({16, 16, 3}) * (7 + index) % 80).to(torch::kUInt8);
    sample.image.select(2, index % 3).add_(150);
    sample.labels[Task::kClassification] = data::one_hot(index % 3, 3);
    return sample;
  }
};

// A trainer over ColourDataset with a tiny classification model; `log` collects each step's total loss.
struct TinyRun {
  explicit TinyRun(TrainerOptions options, uint64_t seed = 3) {
    torch::manual_seed(seed);
    models::MultiTaskModelOptions model_options;
    model_options.backbone = models::ResNetOptions(18).width_multiplier(0.125);
    models::HeadOptions head;
    head.task = Task::kClassification;
    head.num_outputs = 3;
    model_options.heads = {head};
    losses::WeightingOptions weighting;
    weighting.tasks = {Task::kClassification};
    module = TrainModule(models::MultiTaskModel(model_options), losses::weighting_registry().create("fixed", weighting));
    data::LoaderOptions loader;
    loader.batch_size = 8;
    loader.workers = 1;
    loader.seed = 5;
    auto transform = std::make_shared<data::Normalize>();
    OptimizerOptions optimizer;
    optimizer.lr = 0.05;
    trainer = std::make_unique<Trainer>(module, make_optimizer(*module, optimizer),
                                        std::make_unique<data::Loader>(std::make_shared<ColourDataset>(), transform, loader),
                                        options);
  }
  TrainModule module{nullptr};
  std::unique_ptr<Trainer> trainer;
};

// Records each step's total loss.
class LossRecorder final : public HookBase {
 public:
  void after_step(Trainer& trainer) override { losses.push_back(trainer.state().losses.at("loss/total")); }
  std::vector<double> losses;
};

// Trains `run` to its end; returns each step's total loss.
std::vector<double> train_recording_losses(TinyRun& run) {
  auto recorder = std::make_shared<LossRecorder>();
  run.trainer->register_hooks({recorder});
  run.trainer->train();
  return recorder->losses;
}

bool all_finite(const torch::nn::Module& module) {
  for (const auto& p : module.parameters()) {
    if (!torch::isfinite(p).all().item<bool>()) return false;
  }
  return true;
}

TEST(Trainer, NonFiniteLossStopsOrSkipsAndNeverStepsOnIt) {
  TrainerOptions options;
  options.max_iterations = 4;
  options.inject_nan_at = 2;
  TinyRun stopping(options);
  try {
    stopping.trainer->train();
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("step 2: non-finite loss"), std::string::npos) << what;
    EXPECT_NE(what.find("loss/classification/"), std::string::npos) << what;
    EXPECT_NE(what.find("last good checkpoint is none"), std::string::npos) << what;
  }
  EXPECT_EQ(stopping.trainer->state().iteration, 1);
  EXPECT_TRUE(all_finite(*stopping.module));

  options.non_finite = NonFinitePolicy::kSkip;
  TinyRun skipping(options);
  skipping.trainer->train();
  EXPECT_EQ(skipping.trainer->state().iteration, 4);
  EXPECT_EQ(skipping.trainer->state().skipped, 1);
  EXPECT_TRUE(all_finite(*skipping.module));
}

// fp16 asked for on the CPU: the steps run in fp32, unscaled, exactly as an fp32 run.
TEST(Trainer, MixedPrecisionOnCpuRunsTheFp32Step) {
  TrainerOptions options;
  options.max_iterations = 3;
  TinyRun reference(options);
  const std::vector<double> expected = train_recording_losses(reference);

  options.precision = Precision::kFloat16;
  TinyRun mixed(options);
  EXPECT_EQ(mixed.trainer->precision(), Precision::kFloat32);
  EXPECT_FALSE(mixed.trainer->loss_scaler().enabled());
  EXPECT_EQ(train_recording_losses(mixed), expected);
}

// Six steps straight, or three, a checkpoint, and three more in a new trainer: the same losses and weights.
TEST(Trainer, ResumedRunContinuesTheSameLossCurve) {
  TrainerOptions options;
  options.max_iterations = 6;
  TinyRun straight(options);
  const std::vector<double> recorded = train_recording_losses(straight);

  options.max_iterations = 3;
  TinyRun first(options);
  first.trainer->train();
  const CheckpointContents saved = first.trainer->checkpoint();
  torch::rand({7});  // the global generator moves on; restore() must put it back

  options.max_iterations = 6;
  TinyRun second(options, /*seed=*/99);  // other initial weights: all of them come from the checkpoint
  second.trainer->restore(saved);
  EXPECT_EQ(second.trainer->state().iteration, 3);
  const std::vector<double> resumed = train_recording_losses(second);
  ASSERT_EQ(resumed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(resumed[i], recorded[i + 3]) << "step " << i + 4;
  const auto a = models::module_state_dict(*straight.module), b = models::module_state_dict(*second.module);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
}

}  // namespace
}  // namespace must::engine
