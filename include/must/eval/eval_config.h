// The `evaluation:` config section (must_eval; the training tools' periodic evaluation) mapped to
// EvaluationOptions. A library of its own (must_eval_config), as model_config and data_config: the eval module
// needs no YAML.
#pragma once

#include <string_view>

#include "must/config/config.h"
#include "must/data/dataset.h"
#include "must/eval/evaluation.h"

namespace must::eval {

// The commented `evaluation:` section.
std::string_view evaluation_defaults();

// Throws must::ConfigError naming the key on a bad value. `dataset` names the metrics when evaluation.name is "".
EvaluationOptions evaluation_options_from_config(const config::Config& evaluation, const data::DatasetOptions& dataset);

}  // namespace must::eval
