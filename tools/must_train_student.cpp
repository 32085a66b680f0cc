// must_train_student: trains the multi-task student (shared ResNet-FPN backbone, one head per task) on its
// sources' pseudo and real labels, resumable, evaluating as it goes; data parallel when launched as several ranks
// (scripts/launch_local.sh N -- must_train_student ...). The work is in must::pipelines (student.h).
#include "must/app/train_tool.h"
#include "must/pipelines/student.h"

int main(int argc, char** argv) {
  must::app::ToolSpec spec;
  spec.name = "must_train_student";
  spec.description =
      "Trains the config's multi-task model on its sources (pseudo-label stores and labelled datasets, mixed by "
      "weight; evaluating on data.eval) into --output-dir: checkpoints, model_final.safetensors, metrics.jsonl and "
      "metrics.json. --resume continues a run where it stopped, on any number of ranks.";
  spec.defaults = must::pipelines::student_schema();
  return must::app::run_training_tool(argc, argv, spec, must::pipelines::train_student);
}
