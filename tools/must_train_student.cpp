// must_train_student: Trains the multi-task student (shared ResNet-FPN backbone, one head per task) on pseudo and real labels.
#include "must/app/tool.h"

int main(int argc, char** argv) {
  must::app::ToolSpec spec;
  spec.name = "must_train_student";
  spec.description = "Trains the multi-task student (shared ResNet-FPN backbone, one head per task) on pseudo and real labels.";
  spec.not_built_reason = "student training needs the compute core, the data loaders and the label store (later issues)";
  return must::app::run_tool(argc, argv, spec);
}
