// The command line both training tools share: the standard flags (tool.h), --init-from, --dist-timeout; under a
// launcher (scripts/launch_local.sh N -- TOOL ...) the ranks form a process group and train data parallel;
// metrics go to DIR/metrics.jsonl. `train` is the tool's entry point (pipelines::train_model,
// pipelines::train_student).
#pragma once

#include <functional>

#include "must/app/tool.h"
#include "must/pipelines/train.h"

namespace must::app {

using TrainEntry = std::function<void(const config::Config&, const pipelines::TrainRun&)>;

// spec.add_flags and spec.run are filled in here.
int run_training_tool(int argc, char** argv, ToolSpec spec, TrainEntry train);

// One run of `train` in a tool's context: under a launcher the ranks form a process group (each waiting at most
// `dist_timeout_s` for the others); metrics go to DIR/metrics.jsonl. `run` carries what the tool's own flags set
// (init_from, init_keys); output folder, resume, device, group and metrics are filled in here.
constexpr double kDistTimeoutSeconds = 1800;  // --dist-timeout's default
void run_training(const ToolContext& context, pipelines::TrainRun run, const TrainEntry& train,
                  double dist_timeout_s = kDistTimeoutSeconds);

}  // namespace must::app
