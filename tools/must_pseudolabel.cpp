// must_pseudolabel: every teacher over an image set into a sharded, resumable, verifiable pseudo-label store
// (must::labels, pseudolabel.h), on one process or many (scripts/launch_local.sh N -- must_pseudolabel ...).
//   must_pseudolabel --config FILE --output-dir STORE     write (or complete) the store
//   must_pseudolabel --verify STORE                       re-hash every shard against the manifest; exit 1 naming each
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "must/app/tool.h"
#include "must/core/check.h"
#include "must/labels/pseudolabel.h"
#include "must/labels/store.h"

int main(int argc, char** argv) {
  std::string verify;
  must::app::ToolSpec spec;
  spec.name = "must_pseudolabel";
  spec.description =
      "Runs the config's teachers over its input images into the pseudo-label store --output-dir: tar shards with "
      "their .idx and .done, and manifest.json. A rerun keeps the finished shards and redoes the rest. --verify STORE "
      "re-hashes every shard against the manifest.";
  spec.defaults = must::labels::pseudolabel_defaults();
  spec.add_flags = [&](CLI::App& cli) {
    cli.add_option("--verify", verify, "check the store STORE against its manifest and exit (1: a shard differs)");
  };
  spec.needs_output_dir = [&] { return verify.empty(); };
  spec.run = [&](must::app::ToolContext& context) {
    if (!verify.empty()) {
      const std::vector<std::string> problems = must::labels::verify_store(verify);
      for (const auto& problem : problems) spdlog::error("{}", problem);
      if (!problems.empty()) MUST_THROW(must::Error, verify, ": ", problems.size(), " shard(s) differ from the manifest");
      spdlog::info("{}: every shard matches the manifest", verify);
      return;
    }
    MUST_CHECK(context.launch.world_size == 1, "several ranks need the dist module (not built yet)");
    must::labels::PseudolabelRun run;
    run.store = context.output_dir;
    run.device = torch::Device(context.device);
    run.rank = context.launch.rank;
    const must::labels::PseudolabelSummary s = must::labels::pseudolabel(context.config, run);
    spdlog::info("done in {:.1f} s: {} shards in the store; this run wrote {} ({} redone), kept {}; {} images labelled, "
                 "{} failed", s.seconds, s.shards, s.written, s.redone, s.kept, s.images, s.failed);
  };
  return must::app::run_tool(argc, argv, spec);
}
