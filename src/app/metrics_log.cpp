#include "must/app/metrics_log.h"

#include <nlohmann/json.hpp>

#include "must/core/check.h"

namespace must::app {

MetricsLog::MetricsLog(const std::filesystem::path& path) : path_(path), out_(path, std::ios::app) {
  MUST_CHECK(out_.good(), "cannot open metrics log '", path.string(), "' for appending");
}

void MetricsLog::write(int64_t step, const std::map<std::string, double>& values) {
  nlohmann::ordered_json line;
  line["step"] = step;
  for (const auto& [key, value] : values) line[key] = value;
  out_ << line.dump() << '\n';
  out_.flush();
  MUST_CHECK(out_.good(), "cannot write metrics log '", path_.string(), "'");
}

}  // namespace must::app
