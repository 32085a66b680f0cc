// Metrics as JSON lines: one object per call, appended to <output_dir>/metrics.jsonl and flushed, so a
// crashed run keeps everything it measured. Keys follow `<dataset>/<task>/<metric>` or `loss/<task>/<term>`.
//
//   {"step": 120, "loss/depth/l1": 0.213, "time/images_per_s": 1840.5}
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace must::app {

class MetricsLog {
 public:
  explicit MetricsLog(const std::filesystem::path& path);
  void write(int64_t step, const std::map<std::string, double>& values);

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace must::app
