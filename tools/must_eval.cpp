// must_eval: Evaluates a checkpoint on a dataset, or fine-tunes it on a benchmark and evaluates it.
#include "must/app/tool.h"

int main(int argc, char** argv) {
  must::app::ToolSpec spec;
  spec.name = "must_eval";
  spec.description = "Evaluates a checkpoint on a dataset, or fine-tunes it on a benchmark and evaluates it.";
  spec.not_built_reason = "evaluation needs the compute core, the readers and the metrics (later issues)";
  return must::app::run_tool(argc, argv, spec);
}
