// must_bench_plan: what planning a pseudo-label store costs on a tar-shard input of a million images: opening the
// tar_shards dataset (each shard's samples counted) and the store's input hash (a line per shard), in seconds and
// peak memory (the process's maximum resident set).
//   must_bench_plan --make DIR --inputs 1000000 --shards 1000 [--index]   writes the shards (tiny .png members: the
//                                                                        plan reads names, never pixels)
//   must_bench_plan DIR [--per-name]    times the plan; --per-name also times hashing every input's name (the plan
//                                       of an unsharded input) for comparison
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include "must/core/fs.h"
#include "must/core/sha256.h"
#include "must/data/dataset.h"
#include "must/io/tar.h"
#include "must/labels/store.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

void make_shards(const std::filesystem::path& dir, int64_t inputs, int64_t shards, bool with_index) {
  std::filesystem::create_directories(dir);
  for (int64_t shard = 0; shard < shards; ++shard) {
    char name[32];
    std::snprintf(name, sizeof(name), "shard-%06lld", static_cast<long long>(shard));
    must::AtomicFileWriter out(dir / (std::string(name) + ".tar"));
    must::io::TarWriter tar(out);
    for (int64_t i = shard * inputs / shards; i < (shard + 1) * inputs / shards; ++i) {
      char key[32];
      std::snprintf(key, sizeof(key), "%09lld", static_cast<long long>(i));
      tar.add(std::string(key) + ".png", "x");
    }
    tar.finish();
    out.commit();
    if (with_index) must::write_file(dir / (std::string(name) + ".idx"), must::io::encode_tar_index(tar.members()));
  }
  std::printf("wrote %lld inputs in %lld shards under %s%s\n", static_cast<long long>(inputs),
              static_cast<long long>(shards), dir.c_str(), with_index ? " (with .idx files)" : "");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("planning a pseudo-label store over tar shards");
  std::string dir, make;
  int64_t inputs = 1000000, shards = 1000;
  bool with_index = false, per_name = false;
  app.add_option("dir", dir, "folder of .tar shards to plan over");
  app.add_option("--make", make, "write shards into this folder instead");
  app.add_option("--inputs", inputs, "--make: images in all");
  app.add_option("--shards", shards, "--make: shards");
  app.add_flag("--index", with_index, "--make: a .idx member index beside each shard");
  app.add_flag("--per-name", per_name, "also hash every input's name, as an unsharded input is planned");
  CLI11_PARSE(app, argc, argv);
  if (!make.empty()) {
    make_shards(make, inputs, shards, with_index);
    return 0;
  }
  if (dir.empty()) {
    std::fprintf(stderr, "must_bench_plan: give DIR or --make DIR\n");
    return 2;
  }
  must::data::DatasetOptions options;
  options.format = "tar_shards";
  options.root = dir;
  auto start = std::chrono::steady_clock::now();
  const auto dataset = must::data::make_dataset(options);
  const double open_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  const std::string hash = must::labels::input_list_sha256(*dataset);
  const double hash_seconds = seconds_since(start);
  std::printf("plan over %lld inputs: open %.2f s (every shard's samples counted), input hash %.4f s (%s...); "
              "peak resident memory %.0f MiB\n",
              static_cast<long long>(dataset->size()), open_seconds, hash_seconds, hash.substr(0, 12).c_str(),
              peak_resident_mib());
  if (per_name) {
    start = std::chrono::steady_clock::now();
    must::Sha256 names;
    for (int64_t i = 0; i < dataset->size(); ++i) names.update(dataset->source(i) + "\n");
    std::printf("hashing every input's name instead: %.2f s; peak resident memory %.0f MiB\n", seconds_since(start),
                peak_resident_mib());
  }
  return 0;
}
