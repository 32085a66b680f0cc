// must_train_teacher: trains one specialized model (a teacher: the config's model with its task's head) on its
// labelled dataset, resumable, evaluating as it goes; data parallel when launched as several ranks
// (scripts/launch_local.sh N -- must_train_teacher ...). The work is in must::pipelines (train.h).
#include "must/app/train_tool.h"

int main(int argc, char** argv) {
  must::app::ToolSpec spec;
  spec.name = "must_train_teacher";
  spec.description =
      "Trains the config's model on data.train (evaluating on data.eval) into --output-dir: checkpoints, "
      "model_final.safetensors, metrics.jsonl and metrics.json. --resume continues a run where it stopped.";
  spec.defaults = must::pipelines::teacher_schema();
  return must::app::run_training_tool(argc, argv, spec, [](const auto& config, const auto& run) {
    must::pipelines::train_model(config, run);
  });
}
