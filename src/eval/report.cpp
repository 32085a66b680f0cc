#include "must/eval/report.h"

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/core/strings.h"
#include "must/core/task.h"
#include "must/data/image_io.h"

namespace must::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The task of a metric key "<dataset>/<task>/<metric>" whose metric is that task's headline, else nullptr.
const TaskSpec* headline_task(const std::string& key) {
  const size_t first = key.find('/');
  if (first == std::string::npos) return nullptr;
  const size_t second = key.find('/', first + 1);
  if (second == std::string::npos) return nullptr;
  const std::string task = key.substr(first + 1, second - first - 1), metric = key.substr(second + 1);
  for (const TaskSpec& spec : task_table()) {
    if (spec.name == task && spec.headline_metric == metric) return &spec;
  }
  return nullptr;
}

// The index of the best value of a row, -1 when it has none.
int best_of(const ReportRow& row) {
  int best = -1;
  for (size_t i = 0; i < row.values.size(); ++i) {
    const double v = row.values[i];
    if (std::isnan(v)) continue;
    if (best < 0 || (row.higher_is_better ? v > row.values[size_t(best)] : v < row.values[size_t(best)])) best = int(i);
  }
  return best;
}

// Whether run i holds the row's best value (ties all count).
bool is_best(const ReportRow& row, size_t i) {
  const int best = best_of(row);
  return best >= 0 && row.values[i] == row.values[size_t(best)];
}

std::string format_value(double value) {
  if (std::isnan(value)) return "—";
  char text[32];
  std::snprintf(text, sizeof(text), std::abs(value) >= 1 ? "%.2f" : "%.4f", value);
  return text;
}

// A run folder's metrics.json: numbers, and null as NaN.
std::map<std::string, double> read_metrics_json(const std::filesystem::path& dir) {
  const auto file = dir / "metrics.json";
  if (!std::filesystem::exists(file)) MUST_THROW(Error, file.string(), " does not exist (is ", dir.string(), " a run folder?)");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    MUST_THROW(Error, file.string(), ": malformed JSON (", e.what(), ")");
  }
  if (!json.is_object()) MUST_THROW(Error, file.string(), ": expected an object of metric values");
  std::map<std::string, double> metrics;
  for (const auto& [key, value] : json.items()) {
    if (value.is_number()) metrics[key] = value.get<double>();
    else if (value.is_null()) metrics[key] = kNaN;
  }
  return metrics;
}

// A difference to the baseline, signed, in the value's own precision.
std::string format_difference(double value, double baseline) {
  if (std::isnan(value) || std::isnan(baseline)) return "";
  char text[32];
  std::snprintf(text, sizeof(text), std::abs(value) >= 1 ? " (%+.2f)" : " (%+.4f)", value - baseline);
  return text;
}

}  // namespace

ReportColumn parse_report_column(const std::string& text) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    MUST_THROW(ConfigError, "--column '", text, "': expected NAME=DIR[,DIR...]");
  }
  ReportColumn column{text.substr(0, equals), {}};
  for (const std::string& dir : split(text.substr(equals + 1), ',')) {
    if (dir.empty()) MUST_THROW(ConfigError, "--column '", text, "': an empty run folder");
    column.runs.emplace_back(dir);
  }
  return column;
}

std::vector<ReportColumn> columns_of_runs(const std::vector<std::filesystem::path>& run_dirs) {
  std::multiset<std::string> names;
  for (const auto& dir : run_dirs) names.insert(std::filesystem::path(dir).lexically_normal().filename().string());
  std::vector<ReportColumn> columns;
  for (const auto& dir : run_dirs) {
    const std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
    columns.push_back({names.count(name) > 1 || name.empty() ? dir.string() : name, {dir}});
  }
  return columns;
}

std::vector<ReportRun> read_columns(const std::vector<ReportColumn>& columns) {
  std::vector<ReportRun> runs;
  for (const auto& column : columns) {
    ReportRun run{column.name, {}};
    std::map<std::string, std::filesystem::path> from;  // which folder gave each key
    for (const auto& dir : column.runs) {
      for (const auto& [key, value] : read_metrics_json(dir)) {
        const auto [it, inserted] = run.metrics.emplace(key, value);
        const bool same = it->second == value || (std::isnan(it->second) && std::isnan(value));
        if (!inserted && !same) {
          MUST_THROW(Error, "column ", column.name, ": ", key, " is ", format_value(it->second), " in ",
                     from[key].string(), " but ", format_value(value), " in ", dir.string());
        }
        from.emplace(key, dir);
      }
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<ReportRow> report_rows(const std::vector<ReportRun>& runs) {
  std::map<std::string, ReportRow> rows;
  for (const auto& run : runs) {
    for (const auto& [key, value] : run.metrics) {
      const TaskSpec* spec = headline_task(key);
      if (!spec) continue;
      ReportRow& row = rows[key];
      row.key = key;
      row.higher_is_better = spec->higher_is_better;
    }
  }
  std::vector<ReportRow> out;
  for (auto& [key, row] : rows) {
    for (const auto& run : runs) {
      const auto found = run.metrics.find(key);
      row.values.push_back(found == run.metrics.end() ? kNaN : found->second);
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::string report_markdown(const std::vector<ReportRun>& runs, const std::vector<ReportRow>& rows,
                            const std::string& chart_file, int baseline) {
  std::string out = "# Evaluation report\n\nThe headline metric of each dataset and task; the best run of each row in bold "
                    "(outlined in the chart)";
  out += baseline >= 0 ? "; in parentheses, the difference to " + runs[size_t(baseline)].name + ".\n\n" : ".\n\n";
  out += "| dataset / task | metric |";
  std::string rule = "|---|---|";
  for (const auto& run : runs) out += " " + run.name + " |", rule += "---:|";
  out += "\n" + rule + "\n";
  for (const auto& row : rows) {
    const size_t last = row.key.rfind('/');
    out += "| " + row.key.substr(0, last) + " | " + row.key.substr(last + 1) + (row.higher_is_better ? " ↑" : " ↓") + " |";
    for (size_t i = 0; i < row.values.size(); ++i) {
      const std::string value = format_value(row.values[i]);
      out += " " + (is_best(row, i) && runs.size() > 1 ? "**" + value + "**" : value);
      if (baseline >= 0 && int(i) != baseline) out += format_difference(row.values[i], row.values[size_t(baseline)]);
      out += " |";
    }
    out += "\n";
  }
  out += "\n↑ higher is better, ↓ lower is better. Every metric of every run is in its metrics.json.\n\n![chart](" +
         chart_file + ")\n";
  return out;
}

std::string report_chart_png(const std::vector<ReportRun>& runs, const std::vector<ReportRow>& rows) {
  const int width = 960, label_width = 260, value_width = 90, bar_height = 20, title_height = 30, gap = 14, margin = 16;
  const int panel_height = title_height + int(runs.size()) * (bar_height + 6) + gap;
  const int height = 2 * margin + std::max(1, int(rows.size())) * panel_height;
  cv::Mat image(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  // One colour per run (RGB), from a qualitative palette.
  static const cv::Scalar palette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                       {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  int y = margin;
  for (const auto& row : rows) {
    const std::string title = row.key + (row.higher_is_better ? "  (higher is better)" : "  (lower is better)");
    cv::putText(image, title, {margin, y + 20}, font, 0.55, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    y += title_height;
    double scale = 0;
    for (double v : row.values) {
      if (!std::isnan(v)) scale = std::max(scale, std::abs(v));
    }
    const int bar_space = width - 2 * margin - label_width - value_width;
    for (size_t i = 0; i < runs.size(); ++i) {
      const double v = row.values[i];
      std::string label = runs[i].name;
      if (label.size() > 28) label = "..." + label.substr(label.size() - 25);
      cv::putText(image, label, {margin + 8, y + 15}, font, 0.45, cv::Scalar(40, 40, 40), 1, cv::LINE_AA);
      const int x0 = margin + label_width;
      const int length = std::isnan(v) || scale == 0 ? 0 : std::max(1, int(std::lround(std::abs(v) / scale * bar_space)));
      if (length > 0) {
        cv::rectangle(image, {x0, y}, {x0 + length, y + bar_height}, palette[i % 8], cv::FILLED);
        if (is_best(row, i) && runs.size() > 1) cv::rectangle(image, {x0, y}, {x0 + length, y + bar_height}, cv::Scalar(0, 0, 0), 2);
      }
      cv::putText(image, format_value(v), {x0 + length + 6, y + 15}, font, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
      y += bar_height + 6;
    }
    y += gap;
  }
  return data::encode_png(image.data, image.rows, image.cols, 3, 8, 6);
}

void write_report(const std::vector<ReportColumn>& columns, const std::filesystem::path& output,
                  const std::string& baseline) {
  MUST_CHECK(!columns.empty(), "a report needs at least one column");
  int baseline_index = -1;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == baseline) baseline_index = int(i);
  }
  if (!baseline.empty() && baseline_index < 0) {
    MUST_THROW(ConfigError, "--baseline ", baseline, ": no column of that name");
  }
  const std::vector<ReportRun> runs = read_columns(columns);
  const std::vector<ReportRow> rows = report_rows(runs);
  if (rows.empty()) {
    MUST_THROW(Error, "no run has a headline metric (<dataset>/<task>/<metric> with the task's headline: top1, AP, "
                      "mIoU, AbsRel, mean_angle) in its metrics.json");
  }
  auto chart = output;
  chart.replace_extension(".png");
  if (output.has_parent_path()) ensure_directory(output.parent_path());
  atomic_write_file(chart, report_chart_png(runs, rows));
  atomic_write_file(output, report_markdown(runs, rows, chart.filename().string(), baseline_index));
}

}  // namespace must::eval
