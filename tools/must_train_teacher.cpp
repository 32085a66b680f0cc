// must_train_teacher: Trains one specialized teacher (classification, detection, segmentation, depth or normals) from a YAML config.
#include "must/app/tool.h"

int main(int argc, char** argv) {
  must::app::ToolSpec spec;
  spec.name = "must_train_teacher";
  spec.description = "Trains one specialized teacher (classification, detection, segmentation, depth or normals) from a YAML config.";
  spec.not_built_reason = "teacher training needs the compute core and the data loaders (open issues: compute core, detection, data)";
  return must::app::run_tool(argc, argv, spec);
}
