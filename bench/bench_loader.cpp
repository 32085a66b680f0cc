// must_bench_loader DIR: the loader's images/s on a folder of JPEGs (bench/peers/make_jpegs.py writes
// them), doing what bench/peers/peer_loader.py does: decode, RandomResizedCrop(224), horizontal flip,
// normalise, batches of 32, shuffled; one warm-up epoch (page cache, thread start), then one timed epoch.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>

#include "must/data/loader.h"

int main(int argc, char** argv) {
  CLI::App app("loader benchmark");
  std::string dir;
  int workers = 2, batch = 32, size = 224;
  app.add_option("dir", dir, "folder of .jpg images")->required();
  app.add_option("--workers", workers, "decode/augment threads");
  app.add_option("--batch", batch, "batch size");
  app.add_option("--size", size, "crop size");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);  // the work is in the loader's threads

  using namespace must::data;
  DatasetOptions dataset_options;
  dataset_options.format = "images";
  dataset_options.root = dir;
  auto dataset = make_dataset(dataset_options);
  auto transform = std::make_shared<Compose>(std::vector<std::shared_ptr<Transform>>{
      std::make_shared<RandomResizedCrop>(size), std::make_shared<HorizontalFlip>(), std::make_shared<Normalize>()});
  LoaderOptions options;
  options.batch_size = batch;
  options.workers = workers;
  options.size_divisible = 1;
  Loader loader(dataset, transform, options);
  auto run_epoch = [&](int64_t epoch) {
    int64_t n = 0;
    loader.start_epoch(epoch);
    while (auto b = loader.next()) n += int64_t(b->indices.size());
    return n;
  };
  run_epoch(0);
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = run_epoch(1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%lld images, %d workers, batch %d, crop %d\n", static_cast<long long>(n), workers, batch, size);
  std::printf("must_loader: %.1f images/s\n", double(n) / seconds);
  return 0;
}
