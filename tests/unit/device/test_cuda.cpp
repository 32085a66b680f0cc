// The compute on a CUDA device against the same on the CPU: what scripts/gpu_check.sh runs on a machine with a
// GPU. Every test is skipped where there is none. The CPU side runs our hand-written kernels (RoI Align, bilinear
// resize, the upsampled cross-entropy, training batch norm); the GPU side the ATen/cuDNN paths those kernels fall
// back to, so these tests check the fallbacks as well as the device.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include "must/distributed/gradient_reducer.h"
#include "must/distributed/process_group.h"
#include "must/engine/mixed_precision.h"
#include "must/losses/task_losses.h"
#include "must/models/multi_task_model.h"
#include "must/ops/nms.h"
#include "must/ops/resize.h"
#include "must/ops/roi_align.h"
#include "must/structures/device_transfer.h"

namespace must {
namespace {

// The device under test: cuda:0, or the CPU with MUST_TEST_DEVICE=cpu — a dry run of these tests' own logic on a
// machine without a GPU (both sides then take the same path, so it checks the tests, not the device).
torch::Device cuda() {
  const char* chosen = std::getenv("MUST_TEST_DEVICE");
  return chosen && std::string(chosen) == "cpu" ? torch::Device(torch::kCPU) : torch::Device(torch::kCUDA, 0);
}

// Skipped without a GPU — unless MUST_TEST_REQUIRE_CUDA is set (scripts/gpu_check.sh on a machine whose Python
// sees one: a binary that does not would otherwise pass by skipping everything). The comparisons with the CPU
// are fp32's: TF32, which LibTorch allows for cuDNN convolutions by default on Ampere and later, is turned off.
#define MUST_SKIP_WITHOUT_CUDA()                                                              \
  if (cuda().is_cuda() && !torch::cuda::is_available()) {                                     \
    if (std::getenv("MUST_TEST_REQUIRE_CUDA")) FAIL() << "no CUDA device, and one is required"; \
    GTEST_SKIP() << "no CUDA device";                                                         \
  }                                                                                           \
  at::globalContext().setAllowTF32CuDNN(false);                                               \
  at::globalContext().setAllowTF32CuBLAS(false)

void expect_close(const torch::Tensor& on_cpu, const torch::Tensor& on_cuda, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(on_cuda.device(), cuda()) << what;
  const torch::Tensor back = on_cuda.detach().to(torch::kCPU).to(on_cpu.scalar_type());
  ASSERT_EQ(on_cpu.sizes(), back.sizes()) << what;
  EXPECT_TRUE(torch::allclose(on_cpu.detach(), back, rtol, atol))
      << what << ": largest difference " << (on_cpu.detach() - back).abs().max().item<double>();
}

TEST(Cuda, PinnedBatchesReachTheDeviceUnchanged) {
  // What the loader does for a CUDA run: pin the batch, then copy it without blocking.
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  structures::ImageList images = structures::ImageList::batch({torch::randn({3, 20, 30}), torch::randn({3, 32, 24})});
  structures::Targets targets;
  targets.tasks[Task::kDepth] = {torch::rand({2, 1, 32, 32}), torch::tensor({true, false}), {}};
  structures::TaskTargets boxes;
  boxes.present = torch::tensor({true, true});
  boxes.instances = {{torch::rand({3, 4}), torch::tensor({0, 1, 2}, torch::kLong), {}, {}, {}},
                     {torch::rand({0, 4}), torch::zeros({0}, torch::kLong), {}, {}, {}}};
  targets.tasks[Task::kDetection] = boxes;
  const bool pin = cuda().is_cuda();  // a dry run on the CPU cannot pin (torch needs CUDA for it)
  const structures::ImageList host_images = pin ? images.pinned() : images;
  const structures::Targets host_targets = pin ? targets.pinned() : targets;
  if (pin) {
    EXPECT_TRUE(host_images.tensors.is_pinned());
    EXPECT_TRUE(host_targets.tasks.at(Task::kDepth).values.is_pinned());
    EXPECT_TRUE(host_targets.tasks.at(Task::kDetection).instances[0].boxes.is_pinned());
  }
  const structures::ImageList on_device = host_images.to(cuda(), /*non_blocking=*/true);
  const structures::Targets targets_on_device = host_targets.to(cuda(), /*non_blocking=*/true);
  EXPECT_EQ(on_device.image_sizes, images.image_sizes);
  expect_close(images.tensors, on_device.tensors, 0, 0, "images");
  expect_close(targets.tasks.at(Task::kDepth).values, targets_on_device.tasks.at(Task::kDepth).values, 0, 0, "depth");
  const auto& moved = targets_on_device.tasks.at(Task::kDetection).instances;
  ASSERT_EQ(moved.size(), 2u);
  expect_close(boxes.instances[0].boxes, moved[0].boxes, 0, 0, "boxes");
  EXPECT_TRUE(torch::equal(boxes.instances[0].labels, moved[0].labels.to(torch::kCPU)));
  EXPECT_EQ(moved[1].size(), 0);
}

TEST(Cuda, StagedBatchesArriveWhileTheComputeStreamIsBusy) {
  // The trainer's staging (structures::DeviceTransfer): batch k+1's copies queued on the copy stream while batch
  // k's work is queued on the compute stream; each batch, once ready, reads back as it was sent — over several
  // rounds, so that a copy landing in memory the compute stream still uses (no record_stream) or read before it
  // finished (no event) would show.
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  const bool pin = cuda().is_cuda();
  structures::DeviceTransfer transfer(cuda());
  std::vector<torch::Tensor> sent;
  auto next = [&] {
    sent.push_back(torch::randn({4, 3, 96, 96}));
    structures::ImageList images{pin ? sent.back().pin_memory() : sent.back(), {}};
    structures::Targets targets;
    targets.tasks[Task::kDepth] = {sent.back().narrow(1, 0, 1).contiguous(), torch::ones({4}, torch::kBool), {}};
    return transfer.start(images, pin ? targets.pinned() : targets);
  };
  structures::DeviceTransfer::InFlight staged = next();
  for (int round = 0; round < 6; ++round) {
    structures::DeviceTransfer::InFlight batch = std::move(staged);
    transfer.ready(batch);
    staged = next();  // queued before this round's work, as the trainer does
    torch::Tensor work = batch.images.tensors;
    for (int k = 0; k < 20; ++k) work = torch::matmul(work, work.transpose(2, 3)).tanh();  // keeps the stream busy
    expect_close(sent[size_t(round)], batch.images.tensors, 0, 0, "images of round " + std::to_string(round));
    expect_close(sent[size_t(round)].narrow(1, 0, 1), batch.targets.tasks.at(Task::kDepth).values, 0, 0,
                 "depth of round " + std::to_string(round));
    EXPECT_TRUE(work.isfinite().all().item<bool>());
  }
}

TEST(Cuda, RoIAlignMatchesTheCpuKernel) {
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  const auto input = torch::randn({2, 8, 32, 32});
  const auto corner = torch::rand({20, 2}) * 24;
  const auto rois = torch::cat(
      {torch::randint(0, 2, {20, 1}).to(torch::kFloat), corner, corner + torch::rand({20, 2}) * 8 + 1}, 1);
  torch::NoGradGuard no_grad;
  for (bool aligned : {false, true}) {
    expect_close(ops::roi_align(input, rois, 0.5, 7, 7, 2, aligned),
                 ops::roi_align(input.to(cuda()), rois.to(cuda()), 0.5, 7, 7, 2, aligned), 1e-4, 1e-5,
                 aligned ? "roi_align (aligned)" : "roi_align");
  }
}

TEST(Cuda, NmsKeepsTheSameBoxes) {
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  const auto corner = torch::rand({200, 2}) * 100;
  const auto boxes = torch::cat({corner, corner + torch::rand({200, 2}) * 30 + 1}, 1);
  const auto scores = torch::rand({200});
  const auto on_cpu = ops::nms(boxes, scores, 0.5);
  const auto on_cuda = ops::nms(boxes.to(cuda()), scores.to(cuda()), 0.5);
  EXPECT_TRUE(torch::equal(on_cpu, on_cuda.to(torch::kCPU)));
}

TEST(Cuda, BilinearResizeMatchesTheCpuKernel) {
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  const auto x = torch::randn({2, 5, 17, 23});
  torch::NoGradGuard no_grad;
  expect_close(ops::resize_bilinear(x, {64, 48}), ops::resize_bilinear(x.to(cuda()), {64, 48}), 1e-4, 1e-5,
               "resize_bilinear");
}

TEST(Cuda, UpsampledCrossEntropyAndItsGradientMatchTheCpuKernel) {
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  const auto logits = torch::randn({3, 7, 8, 8});
  auto labels = torch::randint(0, 7, {3, 32, 32}, torch::kLong);
  labels.index_put_({0, torch::indexing::Slice(0, 4)}, 255);  // some ignored pixels
  const auto present = torch::tensor({true, false, true});
  const auto cpu_logits = logits.clone().requires_grad_();
  const auto cuda_logits = logits.to(cuda()).requires_grad_();
  const auto on_cpu = losses::cross_entropy_upsampled(cpu_logits, labels, present);
  const auto on_cuda = losses::cross_entropy_upsampled(cuda_logits, labels.to(cuda()), present.to(cuda()));
  expect_close(on_cpu, on_cuda, 1e-4, 1e-5, "loss");
  on_cpu.backward();
  on_cuda.backward();
  expect_close(cpu_logits.grad(), cuda_logits.grad(), 1e-3, 1e-6, "gradient");
}

// The world's small model with all five heads: the step the GPU check times, at a size that runs anywhere.
models::MultiTaskModelOptions five_head_model() {
  models::MultiTaskModelOptions options;
  options.backbone = models::ResNetOptions(18).width_multiplier(0.25);
  options.fpn_channels = 32;
  options.dense_channels = 32;
  for (auto [task, outputs] : std::vector<std::pair<Task, int64_t>>{{Task::kClassification, 5},
                                                                     {Task::kDetection, 5},
                                                                     {Task::kSegmentation, 7},
                                                                     {Task::kDepth, 0},
                                                                     {Task::kNormals, 0}}) {
    models::HeadOptions head;
    head.task = task;
    head.num_outputs = outputs;
    options.heads.push_back(head);
  }
  return options;
}

structures::Targets dense_targets(int64_t batch, int64_t size) {
  structures::Targets targets;
  const auto all = torch::ones({batch}, torch::kBool);
  targets.tasks[Task::kClassification] = {torch::softmax(torch::randn({batch, 5}), 1), all, {}};
  targets.tasks[Task::kSegmentation] = {torch::randint(0, 7, {batch, size, size}, torch::kLong), all, {}};
  targets.tasks[Task::kDepth] = {torch::rand({batch, 1, size, size}) + 0.5, all, {}};
  targets.tasks[Task::kNormals] = {
      torch::nn::functional::normalize(torch::randn({batch, 3, size, size}),
                                       torch::nn::functional::NormalizeFuncOptions().dim(1)),
      all, {}};
  return targets;
}

TEST(Cuda, TrainingStepLossesAndGradientsMatchTheCpu) {
  // Dense and classification heads (detection's training samples proposals from the device's own generator,
  // so its losses are compared for being finite only): same weights, same batch, losses and every gradient.
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  models::MultiTaskModel on_cpu(five_head_model());
  models::MultiTaskModel on_cuda(five_head_model());
  {
    torch::NoGradGuard no_grad;
    const auto source = on_cpu->named_parameters();
    for (auto& item : on_cuda->named_parameters()) item.value().copy_(source[item.key()]);
  }
  on_cuda->to(cuda());
  const auto x = torch::randn({4, 3, 64, 64});
  const structures::Targets targets = dense_targets(4, 64);
  const auto cpu_out = on_cpu->forward(x, &targets);
  const structures::Targets cuda_targets = targets.to(cuda());
  const auto cuda_out = on_cuda->forward(x.to(cuda()), &cuda_targets);
  torch::Tensor cpu_total = torch::zeros({}), cuda_total = torch::zeros({}, torch::TensorOptions().device(cuda()));
  EXPECT_EQ(cpu_out.losses.size(), 4u);  // no detection targets: no detection loss, whose sampling would differ
  EXPECT_EQ(cuda_out.losses.size(), cpu_out.losses.size());
  for (const auto& [name, value] : cpu_out.losses) {
    ASSERT_TRUE(cuda_out.losses.count(name)) << name;
    expect_close(value, cuda_out.losses.at(name), 1e-3, 1e-5, name);
    cpu_total = cpu_total + value;
    cuda_total = cuda_total + cuda_out.losses.at(name);
  }
  cpu_total.backward();
  cuda_total.backward();
  const auto cpu_parameters = on_cpu->named_parameters();
  for (const auto& item : on_cuda->named_parameters()) {
    const torch::Tensor& expected = cpu_parameters[item.key()].grad();
    if (!expected.defined()) continue;
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    expect_close(expected, item.value().grad(), 1e-2, 1e-4, item.key());
  }
}

TEST(Cuda, DetectionTrainsAndPredictsOnTheDevice) {
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  models::MultiTaskModel model(five_head_model());
  model->to(cuda());
  structures::Targets targets;
  structures::TaskTargets boxes;
  boxes.present = torch::ones({2}, torch::kBool);
  for (int i = 0; i < 2; ++i) {
    boxes.instances.push_back({torch::tensor({{4.0f, 6.0f, 30.0f, 40.0f}, {20.0f, 10.0f, 60.0f, 50.0f}}),
                               torch::tensor({1, 3}, torch::kLong), {}, {}, {}});
  }
  targets.tasks[Task::kDetection] = boxes;
  const auto x = torch::randn({2, 3, 64, 64}).to(cuda());
  const structures::Targets on_device = targets.to(cuda());
  const auto trained = model->forward(x, &on_device);
  ASSERT_FALSE(trained.losses.empty());
  torch::Tensor total;
  for (const auto& [name, value] : trained.losses) {
    EXPECT_EQ(value.device(), cuda()) << name;
    EXPECT_TRUE(std::isfinite(value.item<double>())) << name;
    total = total.defined() ? total + value : value;
  }
  total.backward();
  model->eval();
  model->fuse_for_inference();  // a no-op on the GPU
  torch::NoGradGuard no_grad;
  const auto predicted = model->forward(x);
  ASSERT_EQ(predicted.instances.at(Task::kDetection).size(), 2u);
  for (const auto& [task, prediction] : predicted.predictions) EXPECT_EQ(prediction.device(), cuda()) << task_name(task);
}

TEST(Cuda, MixedPrecisionStepsStayCloseToFp32) {
  // bf16 and fp16 autocast on the forward pass (engine/mixed_precision.h): the losses within a few percent of
  // fp32's, every gradient finite, parameters still fp32.
  MUST_SKIP_WITHOUT_CUDA();
  torch::manual_seed(0);
  models::MultiTaskModel model(five_head_model());
  model->to(cuda());
  const auto x = torch::randn({4, 3, 64, 64}).to(cuda());
  const structures::Targets targets = dense_targets(4, 64).to(cuda());
  std::map<std::string, double> fp32;
  for (const auto& [name, value] : model->forward(x, &targets).losses) fp32[name] = value.item<double>();
  for (auto precision : {engine::Precision::kBFloat16, engine::Precision::kFloat16}) {
    for (auto& p : model->parameters()) p.mutable_grad().reset();
    torch::Tensor total;
    {
      engine::AutocastScope autocast(precision);
      for (const auto& [name, value] : model->forward(x, &targets).losses) {
        EXPECT_NEAR(value.item<double>(), fp32.at(name), 0.05 * std::abs(fp32.at(name)) + 1e-3)
            << engine::precision_name(precision) << " " << name;
        total = total.defined() ? total + value.to(torch::kFloat) : value.to(torch::kFloat);
      }
    }
    total.backward();
    for (const auto& item : model->named_parameters()) {
      EXPECT_EQ(item.value().scalar_type(), torch::kFloat) << item.key();
      if (item.value().grad().defined()) {
        EXPECT_TRUE(torch::isfinite(item.value().grad()).all().item<bool>())
            << engine::precision_name(precision) << " " << item.key();
      }
    }
  }
}

TEST(Cuda, CollectivesAndTheGradientReducerTakeDeviceTensors) {
  // One rank: the sums are the tensors themselves, but every call goes through the backend a CUDA run uses (NCCL
  // where built with it — MUST_TEST_EXPECT_NCCL, set by scripts/gpu_check.sh then, requires it — else Gloo), and
  // the reducer's buckets, filled by autograd hooks on the device, come back through that backend's stream.
  MUST_SKIP_WITHOUT_CUDA();
  distributed::ProcessGroup group(c10::make_intrusive<c10d::HashStore>(), 0, 1, "127.0.0.1", std::chrono::seconds(60),
                           "process_group", cuda());
  if (std::getenv("MUST_TEST_EXPECT_NCCL")) {
    EXPECT_EQ(group.backend_name(), "gloo+nccl");
  }
  const torch::Tensor values = torch::arange(6, torch::kFloat);
  torch::Tensor on_device = values.to(cuda());
  group.all_reduce_sum(on_device, "values").wait();
  expect_close(values, on_device, 0, 0, "all-reduce");
  group.broadcast(on_device, 0, "values");
  expect_close(values, on_device, 0, 0, "broadcast");
  const std::vector<torch::Tensor> gathered = group.all_gather(on_device, "values");
  ASSERT_EQ(gathered.size(), 1u);
  expect_close(values, gathered[0], 0, 0, "all-gather");
  EXPECT_EQ(distributed::mean_over_ranks(group, {{"loss", 1.5}}, "losses").at("loss"), 1.5);  // host bytes: Gloo

  torch::manual_seed(0);
  torch::nn::Linear layer(4, 3);
  layer->to(cuda());
  const torch::Tensor input = torch::randn({5, 4}).to(cuda());
  layer->forward(input).square().sum().backward();
  std::vector<torch::Tensor> expected;
  for (const auto& p : layer->parameters()) expected.push_back(p.grad().detach().cpu());
  for (auto& p : layer->parameters()) p.mutable_grad().reset();
  distributed::GradientReducer reducer(group, layer->parameters());
  reducer.prepare();
  layer->forward(input).square().sum().backward();
  EXPECT_FALSE(reducer.finish(/*local_loss_finite=*/true).any_rank_non_finite);
  const auto parameters = layer->parameters();
  for (size_t k = 0; k < parameters.size(); ++k) {
    expect_close(expected[k], parameters[k].grad(), 1e-6, 1e-6, "gradient " + std::to_string(k));
  }
}

}  // namespace
}  // namespace must
