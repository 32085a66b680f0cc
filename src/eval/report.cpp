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

}  // namespace

std::vector<ReportRun> read_runs(const std::vector<std::filesystem::path>& run_dirs) {
  std::vector<ReportRun> runs;
  std::multiset<std::string> names;
  for (const auto& dir : run_dirs) names.insert(std::filesystem::path(dir).lexically_normal().filename().string());
  for (const auto& dir : run_dirs) {
    const auto file = dir / "metrics.json";
    if (!std::filesystem::exists(file)) MUST_THROW(Error, file.string(), " does not exist (is ", dir.string(), " a run folder?)");
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(read_file(file));
    } catch (const nlohmann::json::exception& e) {
      MUST_THROW(Error, file.string(), ": malformed JSON (", e.what(), ")");
    }
    if (!json.is_object()) MUST_THROW(Error, file.string(), ": expected an object of metric values");
    ReportRun run;
    const std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
    run.name = names.count(name) > 1 || name.empty() ? dir.string() : name;
    for (const auto& [key, value] : json.items()) {
      if (value.is_number()) run.metrics[key] = value.get<double>();
      else if (value.is_null()) run.metrics[key] = kNaN;
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
                            const std::string& chart_file) {
  std::string out = "# Evaluation report\n\nThe headline metric of each dataset and task; the best run of each row in bold "
                    "(outlined in the chart).\n\n";
  out += "| dataset / task | metric |";
  std::string rule = "|---|---|";
  for (const auto& run : runs) out += " " + run.name + " |", rule += "---:|";
  out += "\n" + rule + "\n";
  for (const auto& row : rows) {
    const size_t last = row.key.rfind('/');
    out += "| " + row.key.substr(0, last) + " | " + row.key.substr(last + 1) + (row.higher_is_better ? " ↑" : " ↓") + " |";
    for (size_t i = 0; i < row.values.size(); ++i) {
      const std::string value = format_value(row.values[i]);
      out += " " + (is_best(row, i) && runs.size() > 1 ? "**" + value + "**" : value) + " |";
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

void write_report(const std::vector<std::filesystem::path>& run_dirs, const std::filesystem::path& output) {
  MUST_CHECK(!run_dirs.empty(), "a report needs at least one run folder");
  const std::vector<ReportRun> runs = read_runs(run_dirs);
  const std::vector<ReportRow> rows = report_rows(runs);
  if (rows.empty()) {
    MUST_THROW(Error, "no run has a headline metric (<dataset>/<task>/<metric> with the task's headline: top1, AP, "
                      "mIoU, AbsRel, mean_angle) in its metrics.json");
  }
  auto chart = output;
  chart.replace_extension(".png");
  if (output.has_parent_path()) ensure_directory(output.parent_path());
  atomic_write_file(chart, report_chart_png(runs, rows));
  atomic_write_file(output, report_markdown(runs, rows, chart.filename().string()));
}

}  // namespace must::eval
