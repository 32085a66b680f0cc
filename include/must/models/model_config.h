// The `model:` config section and its mapping to MultiTaskModelOptions. A library of its own (must_model_config),
// so the compute modules build with LibTorch alone, without the YAML stack (docs/architecture.md).
#pragma once

#include <string_view>

#include "must/config/config.h"
#include "must/models/multi_task_model.h"

namespace must::models {

// The commented `model:` section every training tool's defaults include.
std::string_view model_defaults();
// Maps the resolved `model` config node to options. Throws must::ConfigError naming the key on a bad value.
MultiTaskModelOptions model_options_from_config(const config::Config& model);

}  // namespace must::models
