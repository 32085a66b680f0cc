#include "must/pipelines/finetune.h"

#include <spdlog/spdlog.h>

namespace must::pipelines {

void finetune_model(const config::Config& config, const std::filesystem::path& weights, TrainRun run) {
  if (weights.empty()) {
    if (!config.get_string("model.init_from").empty()) {
      config.fail("model.init_from", "a from-scratch fine-tune (--weights none) starts from no weights");
    }
    spdlog::info("fine-tuning from scratch: no weights");
  } else {
    run.init_from = weights;
    if (config.get_string_list("model.init_keys").empty()) run.init_keys = {"backbone."};
  }
  train_model(config, run);
}

}  // namespace must::pipelines
