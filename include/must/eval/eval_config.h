// The `evaluation:` config section (must_eval; the training tools' periodic evaluation) mapped to
// EvaluationOptions, and must_eval's three modes as library calls (the tool parses flags and calls these).
// A library of its own (must_eval_config), as model_config and data_config: the eval module needs no YAML.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "must/config/config.h"
#include "must/data/dataset.h"
#include "must/eval/evaluation.h"

namespace must::eval {

// The commented `evaluation:` section.
std::string_view evaluation_defaults();
// must_eval's whole schema: every training tool's sections (teachers' and the student's configs evaluate as they are).
std::string_view eval_tool_defaults();

// Throws must::ConfigError naming the key on a bad value. `dataset` names the metrics when evaluation.name is "".
EvaluationOptions evaluation_options_from_config(const config::Config& evaluation, const data::DatasetOptions& dataset);

// `must_eval --weights FILE`: builds the config's model, loads FILE (every model key must be there; keys the model
// lacks, such as other tasks' heads of a student, are listed in the log), evaluates it on data.eval and writes
// output_dir/metrics.json (plus output_dir/predictions/ when save_predictions).
EvaluationResult evaluate_checkpoint(const config::Config& config, const std::filesystem::path& weights,
                                     const std::filesystem::path& output_dir, bool save_predictions,
                                     const torch::Device& device);

// `must_eval score --predictions PATH`: scores saved predictions (a --save-predictions folder, or a COCO results
// JSON) against data.eval with the same metrics, no model needed; writes output_dir/metrics.json.
EvaluationResult score_saved_predictions(const config::Config& config, const std::filesystem::path& predictions,
                                         const std::filesystem::path& output_dir, int threads);

// metrics.json: {"<dataset>/<task>/<metric>": value, ...}, sorted, NaN as null; written atomically.
void write_metrics_json(const std::filesystem::path& path, const EvaluationResult& result);

}  // namespace must::eval
