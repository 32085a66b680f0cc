// Throughput of the multi-task model's compute: forward (eval, no grad) and a training step (forward +
// backward + SGD with momentum), in images/s, and forward GFLOPs per image. Same workload as
// bench/peers/peer_model.py: ResNet-50 + FPN + classification (1000), segmentation (150), depth and normals
// heads at 224x224, batch 8; plus the world's small model.
//
//   must_bench_model [--threads N] [--iters K] [--which paper|world|detection|segmentation_loss|resize|all]
//                    [--channels-last] [--profile PREFIX]
//   must_bench_model --which student [--device cuda] [--precision bf16] [--batch B] [--size S] [--peak-tflops T]
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "flop_counter.h"
#include "must/core/memory.h"
#include "must/core/openmp_spin.h"
#include "must/engine/mixed_precision.h"
#include "must/losses/task_losses.h"
#include "must/ops/resize.h"
#include "must/models/multi_task_model.h"

namespace {

using must::Task;
using namespace must::models;

struct Workload {
  std::string name;
  MultiTaskModelOptions model;
  int64_t batch, size, classes, segmentation_classes;
};

HeadOptions head(Task task, int64_t outputs = 0) {
  HeadOptions h;
  h.task = task;
  h.num_outputs = outputs;
  return h;
}

Workload paper_workload(bool channels_last) {
  Workload w{"resnet50_fpn_224", {}, 8, 224, 1000, 150};
  w.model.backbone = ResNetOptions(50).channels_last(channels_last);
  w.model.fpn_channels = 256;
  w.model.dense_channels = 128;
  w.model.heads = {head(Task::kClassification, 1000), head(Task::kSegmentation, 150), head(Task::kDepth),
                   head(Task::kNormals)};
  return w;
}

Workload world_workload(bool channels_last) {
  Workload w{"world_small_64", {}, 32, 64, 5, 7};
  w.model.backbone = ResNetOptions(18).width_multiplier(0.5).channels_last(channels_last);
  w.model.fpn_channels = 64;
  w.model.dense_channels = 64;
  w.model.heads = {head(Task::kClassification, 5), head(Task::kSegmentation, 7), head(Task::kDepth),
                   head(Task::kNormals)};
  return w;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One training step as the peers do it: the sum of the loss terms (forward under autocast in `precision`, which
// applies on CUDA only), gradients set to none, SGD.
void train_step(MultiTaskModel& model, torch::optim::Optimizer& optimizer, const torch::Tensor& x,
                const must::structures::Targets& targets,
                must::engine::Precision precision = must::engine::Precision::kFloat32) {
  torch::Tensor loss;
  {
    must::engine::AutocastScope autocast(precision);
    for (auto& [name, term] : model->forward(x, &targets).losses) {
      loss = loss.defined() ? loss + term.to(torch::kFloat) : term.to(torch::kFloat);
    }
  }
  for (auto& p : model->parameters()) p.mutable_grad().reset();  // set_to_none, as the peers
  loss.backward();
  optimizer.step();
}

// Images/s of `iters` training steps after 2 warm-up ones (the GPU's queue drained before and after the timing).
double training_images_per_s(MultiTaskModel& model, torch::optim::Optimizer& optimizer, const torch::Tensor& x,
                             const must::structures::Targets& targets, int iters,
                             must::engine::Precision precision = must::engine::Precision::kFloat32) {
  const auto synchronize = [&] {
    if (x.is_cuda()) torch::cuda::synchronize();
  };
  model->train();
  for (int i = 0; i < 2; ++i) train_step(model, optimizer, x, targets, precision);
  synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) train_step(model, optimizer, x, targets, precision);
  synchronize();
  return double(x.size(0) * iters) / seconds_since(start);
}

// Random targets for the dense and classification heads: soft class vectors over `classes`, class maps over
// `segmentation_classes`, depth, unit normals; every sample labelled.
must::structures::Targets dense_targets(int64_t b, int64_t s, int64_t classes, int64_t segmentation_classes) {
  must::structures::Targets targets;
  const auto all = torch::ones({b}, torch::kBool);
  targets.tasks[Task::kClassification] = {torch::softmax(torch::randn({b, classes}), 1), all, {}};
  targets.tasks[Task::kSegmentation] = {torch::randint(0, segmentation_classes, {b, s, s}, torch::kLong), all, {}};
  targets.tasks[Task::kDepth] = {torch::rand({b, 1, s, s}) + 0.5, all, {}};
  targets.tasks[Task::kNormals] = {torch::nn::functional::normalize(
                                       torch::randn({b, 3, s, s}), torch::nn::functional::NormalizeFuncOptions().dim(1)),
                                   all, {}};
  return targets;
}

// Six random boxes of 12-112 pixels per image of side s, labels in [0, classes).
must::structures::TaskTargets box_targets(int64_t b, int64_t s, int64_t classes) {
  must::structures::TaskTargets boxes;
  boxes.present = torch::ones({b}, torch::kBool);
  for (int64_t i = 0; i < b; ++i) {
    const auto corner = torch::rand({6, 2}) * double(s - 112);
    const auto size = torch::rand({6, 2}) * 100 + 12;
    boxes.instances.push_back({torch::cat({corner, corner + size}, 1), torch::randint(0, classes, {6}, torch::kLong), {}, {}, {}});
  }
  return boxes;
}

// Images/s of `iters` forward passes without gradients after 2 warm-up ones (in the model's current mode).
double inference_images_per_s(MultiTaskModel& model, const torch::Tensor& x, int iters) {
  torch::NoGradGuard no_grad;
  for (int i = 0; i < 2; ++i) model->forward(x);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) model->forward(x);
  return double(x.size(0) * iters) / seconds_since(start);
}

// Faster R-CNN (torchvision's fasterrcnn_resnet50_fpn: frozen batch norm, 2fc box head, 91 classes) on two
// 512x512 images with 6 boxes each; the peer is bench/peers/peer_detection.py.
void run_detection(int iters) {
  torch::manual_seed(0);
  MultiTaskModelOptions options;
  options.backbone = ResNetOptions(50).frozen_batch_norm(true);
  HeadOptions detection = head(Task::kDetection, 90);
  detection.roi_heads.box_head = "2fc";
  options.heads = {detection};
  MultiTaskModel model(options);
  const int64_t b = 2, s = 512;
  const auto x = torch::randn({b, 3, s, s});
  must::structures::Targets targets;
  targets.tasks[Task::kDetection] = box_targets(b, s, 90);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const double train = training_images_per_s(model, optimizer, x, targets, iters);
  model->eval();
  const double infer = inference_images_per_s(model, x, iters);
  std::cout << "must_detection_infer[fasterrcnn_resnet50_fpn_512]: " << infer << " images/s\n";
  std::cout << "must_detection_train[fasterrcnn_resnet50_fpn_512]: " << train << " images/s" << std::endl;
}

// Milliseconds per call of `call` over `iters` calls after 2 warm-up ones.
template <class Call>
double milliseconds_per_call(int iters, const Call& call) {
  for (int i = 0; i < 2; ++i) call();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) call();
  return 1000 * seconds_since(start) / iters;
}

// The paper workload's segmentation loss alone, forward + backward: 150-class logits at 56x56 upsampled to
// 224x224 (batch 8) then cross-entropy, as ATen's ops in turn and as losses::cross_entropy_upsampled.
void run_segmentation_loss(int iters) {
  torch::manual_seed(0);
  const auto logits = torch::randn({8, 150, 56, 56}).requires_grad_();
  const auto labels = torch::randint(0, 150, {8, 224, 224}, torch::kLong);
  const auto present = torch::ones({8}, torch::kBool);
  const double aten = milliseconds_per_call(iters, [&] {
    must::losses::cross_entropy_map(torch::upsample_bilinear2d(logits, {224, 224}, false), labels, present).backward();
  });
  const double fused = milliseconds_per_call(
      iters, [&] { must::losses::cross_entropy_upsampled(logits, labels, present).backward(); });
  std::cout << "segmentation loss (8 x 150 x 56x56 -> 224x224, forward + backward, " << at::get_num_threads()
            << " threads): upsample + cross_entropy_map " << aten << " ms, cross_entropy_upsampled " << fused << " ms"
            << std::endl;
}

// The paper workload's segmentation prediction upsampled to the input, without autograd: 150 channels at 56x56
// to 224x224, batch 8, by ATen's upsample_bilinear2d and by ops::resize_bilinear.
void run_resize(int iters) {
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({8, 150, 56, 56});
  const double aten = milliseconds_per_call(iters, [&] { torch::upsample_bilinear2d(x, {224, 224}, false); });
  const double ours = milliseconds_per_call(iters, [&] { must::ops::resize_bilinear(x, {224, 224}); });
  std::cout << "bilinear resize (8 x 150 x 56x56 -> 224x224, " << at::get_num_threads()
            << " threads): upsample_bilinear2d " << aten << " ms, ops::resize_bilinear " << ours << " ms" << std::endl;
}

void run(const Workload& w, int iters, const std::string& profile) {
  torch::manual_seed(0);
  MultiTaskModel model(w.model);
  const int64_t b = w.batch, s = w.size;
  const auto x = torch::randn({b, 3, s, s});
  const must::structures::Targets targets = dense_targets(b, s, w.classes, w.segmentation_classes);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const double train = training_images_per_s(model, optimizer, x, targets, iters);
  if (!profile.empty()) {  // one more step, traced (chrome://tracing format)
    torch::autograd::profiler::RecordProfile trace(profile + "." + w.name + ".json");
    train_step(model, optimizer, x, targets);
  }

  model->eval();
  double infer = 0, infer_unfused = 0;
  int64_t flops = 0;
  {
    torch::NoGradGuard no_grad;
    {
      must::bench::FlopCounter counter;
      model->forward(x);
      flops = counter.flops() / b;
    }
    infer_unfused = inference_images_per_s(model, x, iters);
    model->fuse_for_inference();  // what inference tools do (pseudo-labelling, evaluation)
    infer = inference_images_per_s(model, x, iters);
    if (!profile.empty()) {
      torch::autograd::profiler::RecordProfile trace(profile + "." + w.name + ".inference.json");
      model->forward(x);
    }
  }
  std::cout << w.name << " (batch " << b << ", " << s << "x" << s << ", " << at::get_num_threads() << " threads): "
            << flops / 1e9 << " GFLOP/image forward\n";
  std::cout << "must_model_infer[" << w.name << "]: " << infer << " images/s\n";
  std::cout << "  (without fuse_for_inference: " << infer_unfused << " images/s)\n";
  std::cout << "must_model_train[" << w.name << "]: " << train << " images/s" << std::endl;
}

// The paper's student at the size scripts/gpu_check.sh reports: ResNet-50-FPN with all five heads (classification
// 1000, Faster R-CNN 2fc 90, segmentation 150, depth, normals) at size x size, a training step (forward under
// autocast in `precision` on CUDA, backward, SGD) on `device`. Model FLOPs utilisation counts a training step as
// 3x its forward's convolution and matrix FLOPs (the usual approximation), against `peak_tflops` when given.
void run_student(const torch::Device& device, must::engine::Precision precision, int64_t batch, int64_t size,
                 int iters, double peak_tflops) {
  torch::manual_seed(0);
  MultiTaskModelOptions options = paper_workload(/*channels_last=*/false).model;
  HeadOptions detection = head(Task::kDetection, 90);
  detection.roi_heads.box_head = "2fc";
  options.heads.insert(options.heads.begin() + 1, detection);  // classification, detection, the dense three
  MultiTaskModel model(options);
  model->to(device);
  const int64_t b = batch, s = size;
  const auto x = torch::randn({b, 3, s, s}).to(device);
  must::structures::Targets targets = dense_targets(b, s, 1000, 150);
  targets.tasks[Task::kDetection] = box_targets(b, s, 90);
  targets = targets.to(device);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const must::engine::Precision used = must::engine::effective_precision(precision, device);
  const double images_per_s = training_images_per_s(model, optimizer, x, targets, iters, used);
  int64_t flops = 0;
  {  // the training forward's own (detection samples 512 proposals per image for its box head, not 1000)
    torch::NoGradGuard no_grad;
    must::bench::FlopCounter counter;
    model->forward(x, &targets);
    flops = counter.flops() / b;
  }
  const double achieved_tflops = 3.0 * double(flops) * images_per_s / 1e12;
  const std::string name = "resnet50_fpn_5heads_" + std::to_string(s);
  std::cout << name << " (batch " << b << ", " << device.str() << ", "
            << must::engine::precision_name(used) << "): "
            << flops / 1e9 << " GFLOP/image in a training forward\n";
  std::cout << "must_student_train[" << name << "]: " << images_per_s << " images/s, " << achieved_tflops
            << " TFLOP/s (3x forward)";
  if (peak_tflops > 0) std::cout << ", model FLOPs utilisation " << 100.0 * achieved_tflops / peak_tflops << "% of " << peak_tflops << " TFLOP/s";
  std::cout << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  must::reexec_with_short_openmp_spin(argv);  // the same OpenMP setting as the tools (openmp_spin.h)
  CLI::App cli("Throughput of the multi-task model (forward, training step) and its FLOPs", "must_bench_model");
  int threads = int(std::thread::hardware_concurrency());
  int iters = 5;
  std::string which = "all";
  bool channels_last = false;
  cli.add_option("--threads", threads, "intra-op threads")->capture_default_str();
  cli.add_option("--iters", iters, "timed iterations after 2 warm-up ones")->capture_default_str();
  cli.add_option("--which", which,
                 "paper, world, detection, segmentation_loss, resize, student or all (paper and world)")
      ->check(CLI::IsMember({"paper", "world", "detection", "segmentation_loss", "resize", "student", "all"}));
  std::string device = "cpu", precision = "fp32";
  int64_t batch = 8, size = 512;
  double peak_tflops = 0;
  cli.add_option("--device", device, "student: cpu, cuda or cuda:N")->capture_default_str();
  cli.add_option("--precision", precision, "student: fp32, bf16 or fp16 (autocast, CUDA only)")->capture_default_str();
  cli.add_option("--batch", batch, "student: images per step")->capture_default_str();
  cli.add_option("--size", size, "student: image side")->capture_default_str();
  cli.add_option("--peak-tflops", peak_tflops, "student: the device's peak at --precision, for model FLOPs utilisation");
  cli.add_flag("--channels-last", channels_last, "NHWC weights and activations");
  std::string profile;
  cli.add_option("--profile", profile, "also write traces of one training step and one fused inference pass to PROFILE.<workload>[.inference].json");
  bool plain_malloc = false;
  cli.add_flag("--plain-malloc", plain_malloc, "leave glibc's allocator as it is (what the tools change, see memory.h)");
  CLI11_PARSE(cli, argc, argv);
  if (!plain_malloc) must::keep_freed_memory_for_reuse();
  at::set_num_threads(threads);
  if (which == "all" || which == "paper") run(paper_workload(channels_last), iters, profile);
  if (which == "all" || which == "world") run(world_workload(channels_last), iters, profile);
  if (which == "detection") run_detection(iters);
  if (which == "segmentation_loss") run_segmentation_loss(iters);
  if (which == "resize") run_resize(iters);
  if (which == "student") {
    run_student(torch::Device(device), must::engine::precision_from_name(precision), batch, size, iters, peak_tflops);
  }
  return 0;
}
