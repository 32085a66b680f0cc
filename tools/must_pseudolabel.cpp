// must_pseudolabel: Runs N teachers over an image set and writes a sharded, resumable pseudo-label store.
#include "must/app/tool.h"

int main(int argc, char** argv) {
  must::app::ToolSpec spec;
  spec.name = "must_pseudolabel";
  spec.description = "Runs N teachers over an image set and writes a sharded, resumable pseudo-label store.";
  spec.not_built_reason = "pseudo-labeling needs trained teachers and the label store (later issues)";
  return must::app::run_tool(argc, argv, spec);
}
