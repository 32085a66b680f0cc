// `must_eval report RUN_DIR... --output FILE.md`: every run's headline metric of each `<dataset>/<task>` (the task
// table's headline_metric, read from the run's metrics.json) side by side, so a person sees which run wins where.
//   FILE.md   a Markdown table: one row per dataset and task, one column per run, the best of each row in bold
//             (the task table says whether higher or lower is better); the chart below it
//   FILE.png  the same as horizontal bars, one panel per row, drawn with OpenCV and no plotting stack
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace must::eval {

struct ReportRun {
  std::string name;                       // the run folder's name (its path when two folders share a name)
  std::map<std::string, double> metrics;  // its metrics.json; null values are NaN
};

struct ReportRow {
  std::string key;                        // "<dataset>/<task>/<metric>"
  bool higher_is_better = true;
  std::vector<double> values;             // per run; NaN where the run lacks it
};

// Reads RUN_DIR/metrics.json of each folder. Throws must::Error naming the file when it is missing or malformed.
std::vector<ReportRun> read_runs(const std::vector<std::filesystem::path>& run_dirs);
// The rows: each `<dataset>/<task>/<headline>` key any run has, sorted.
std::vector<ReportRow> report_rows(const std::vector<ReportRun>& runs);
std::string report_markdown(const std::vector<ReportRun>& runs, const std::vector<ReportRow>& rows,
                            const std::string& chart_file);
// The chart, PNG-encoded.
std::string report_chart_png(const std::vector<ReportRun>& runs, const std::vector<ReportRow>& rows);
// All of the above: writes `output` (Markdown) and the chart beside it (same name, .png). Throws must::Error when no
// run has a headline metric.
void write_report(const std::vector<std::filesystem::path>& run_dirs, const std::filesystem::path& output);

}  // namespace must::eval
