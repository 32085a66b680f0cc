// must_bench_eval: the evaluators' cost, so that evaluation is never the bottleneck of a run.
//   COCO AP (CocoDetectionMetric, one thread): 5,000 images, 100 detections and 7 ground-truth boxes each, 80
//   categories (the scale of COCO val2017), add + summarize. pycocotools is not installable here (no PyPI), so
//   no peer runs next to it; the reference point is "several seconds on one core" for pycocotools.
//   mIoU (ConfusionMatrix::add, one thread): 150 classes (ADE20K), 512 x 512 maps, pixels/s.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "must/eval/coco_detection_metric.h"
#include "must/eval/confusion_matrix.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("evaluation benchmark");
  int images = 5000, detections = 100, truths = 7, categories = 80, maps = 40;
  app.add_option("--images", images, "COCO: images");
  app.add_option("--detections", detections, "COCO: detections per image");
  app.add_option("--truth", truths, "COCO: ground-truth boxes per image");
  app.add_option("--maps", maps, "mIoU: 512 x 512 maps");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  using namespace must::eval;

  std::mt19937_64 rng(0);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<std::vector<GroundTruthBox>> all_truth(static_cast<size_t>(images));
  std::vector<std::vector<DetectedBox>> all_detections(static_cast<size_t>(images));
  for (int i = 0; i < images; ++i) {
    for (int g = 0; g < truths; ++g) {
      const double w = 8 + 200 * unit(rng), h = 8 + 200 * unit(rng);
      GroundTruthBox box{int64_t(rng() % uint64_t(categories)), {400 * unit(rng), 300 * unit(rng), w, h}, w * h * 0.8, unit(rng) < 0.02};
      all_truth[size_t(i)].push_back(box);
    }
    for (int d = 0; d < detections; ++d) {
      if (d < 2 * truths) {  // near the ground truth, the rest anywhere
        const auto& g = all_truth[size_t(i)][size_t(d % truths)];
        all_detections[size_t(i)].push_back({g.category, {g.box.x + 10 * (unit(rng) - 0.5), g.box.y + 10 * (unit(rng) - 0.5), g.box.w * (0.8 + 0.4 * unit(rng)), g.box.h}, unit(rng)});
      } else {
        all_detections[size_t(i)].push_back({int64_t(rng() % uint64_t(categories)), {500 * unit(rng), 400 * unit(rng), 4 + 150 * unit(rng), 4 + 150 * unit(rng)}, unit(rng) * 0.5});
      }
    }
  }
  const auto start = std::chrono::steady_clock::now();
  CocoDetectionMetric metric(categories);
  for (int i = 0; i < images; ++i) metric.add_image(i, all_truth[size_t(i)], all_detections[size_t(i)]);
  const CocoSummary summary = metric.summarize();
  const double coco_seconds = seconds_since(start);
  std::printf("coco_eval[%d images x %d detections x %d truth, %d categories, 1 thread]: %.2f s (AP %.3f)\n", images,
              detections, truths, categories, coco_seconds, summary.stats[0]);

  ConfusionMatrix matrix(150);
  const torch::Tensor truth = torch::randint(0, 150, {512, 512}, torch::kLong);
  truth.view({-1}).slice(0, 0, 20000).fill_(255);
  const torch::Tensor prediction = torch::randint(0, 150, {512, 512}, torch::kLong);
  const auto miou_start = std::chrono::steady_clock::now();
  for (int m = 0; m < maps; ++m) matrix.add(truth, prediction);
  const double miou_seconds = seconds_since(miou_start);
  std::printf("miou_accumulate[150 classes, %d maps of 512x512, 1 thread]: %.0f Mpixels/s\n", maps,
              double(maps) * 512 * 512 / miou_seconds / 1e6);
  return 0;
}
