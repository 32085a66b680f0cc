// `must_eval report --column NAME=DIR[,DIR...] ... [--baseline NAME] --output FILE.md`: each column's headline metric
// of every `<dataset>/<task>` (the task table's headline_metric, read from the metrics.json of the column's run
// folders) side by side, so a person sees which run wins where.
//   FILE.md   a Markdown table: one row per dataset and task, one column per named column, the best of each row in
//             bold (the task table says whether higher or lower is better); with a baseline, every other column's
//             cells carry their difference to the baseline's value; the chart below it
//   FILE.png  the same as horizontal bars, one panel per row, drawn with OpenCV and no plotting stack
// A column gathers several run folders (a student's direct evaluation and its fine-tunes, say): their metrics.json
// are merged, and a key two of them give different values is an error naming both.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace must::eval {

struct ReportColumn {
  std::string name;                           // the column's heading
  std::vector<std::filesystem::path> runs;    // run folders, each with a metrics.json
};

// "NAME=DIR[,DIR...]" as a column. Throws must::ConfigError naming the text when it is not of that form.
ReportColumn parse_report_column(const std::string& text);
// One column per run folder, named after the folder (its path when two folders share a name).
std::vector<ReportColumn> columns_of_runs(const std::vector<std::filesystem::path>& run_dirs);

struct ReportRun {
  std::string name;                       // the column's heading
  std::map<std::string, double> metrics;  // its run folders' metrics.json, merged; null values are NaN
};

struct ReportRow {
  std::string key;                        // "<dataset>/<task>/<metric>"
  bool higher_is_better = true;
  std::vector<double> values;             // per column; NaN where the column lacks it
};

// Reads each column's metrics. Throws must::Error naming the file when one is missing or malformed, or naming both
// folders when two of a column disagree on a key.
std::vector<ReportRun> read_columns(const std::vector<ReportColumn>& columns);
// The rows: each `<dataset>/<task>/<headline>` key any column has, sorted.
std::vector<ReportRow> report_rows(const std::vector<ReportRun>& runs);
// baseline: the index of the column the others are compared with; -1 for none.
std::string report_markdown(const std::vector<ReportRun>& runs, const std::vector<ReportRow>& rows,
                            const std::string& chart_file, int baseline = -1);
// The chart, PNG-encoded.
std::string report_chart_png(const std::vector<ReportRun>& runs, const std::vector<ReportRow>& rows);
// All of the above: writes `output` (Markdown) and the chart beside it (same name, .png). `baseline` names a column
// ("" for none). Throws must::Error when no column has a headline metric, must::ConfigError for a baseline that is
// no column's name.
void write_report(const std::vector<ReportColumn>& columns, const std::filesystem::path& output,
                  const std::string& baseline = "");

}  // namespace must::eval
