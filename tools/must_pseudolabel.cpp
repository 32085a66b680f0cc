// must_pseudolabel: every teacher over an image set into a sharded, resumable, verifiable pseudo-label store
// (must::pipelines, pseudolabel.h), on one process or many (scripts/launch_local.sh N -- must_pseudolabel ...).
//   must_pseudolabel --config FILE --output-dir STORE     write (or complete) the store
//   must_pseudolabel --verify STORE                       re-hash every shard against the manifest; exit 1 naming each
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "must/app/metrics_log.h"
#include "must/app/tool.h"
#include "must/core/check.h"
#include "must/distributed/work_queue.h"
#include "must/pipelines/pseudolabel.h"
#include "must/labels/store.h"

int main(int argc, char** argv) {
  std::string verify;
  double timeout_s = 1800;
  must::app::ToolSpec spec;
  spec.name = "must_pseudolabel";
  spec.description =
      "Runs the config's teachers over its input images into the pseudo-label store --output-dir: tar shards with "
      "their .idx and .done, and manifest.json. A rerun keeps the finished shards and redoes the rest. --verify STORE "
      "re-hashes every shard against the manifest.";
  spec.defaults = must::pipelines::pseudolabel_schema();
  spec.add_flags = [&](CLI::App& cli) {
    cli.add_option("--verify", verify, "check the store STORE against its manifest and exit (1: a shard differs)");
    cli.add_option("--dist-timeout", timeout_s, "seconds a rank waits for the others (meeting, the end)")
        ->check(CLI::PositiveNumber);
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
    const must::LaunchEnv& launch = context.launch;
    must::pipelines::PseudolabelRun run;
    run.store = context.output_dir;
    run.device = torch::Device(context.device);
    if (run.device.is_cuda() && !run.device.has_index()) run.device = torch::Device(torch::kCUDA, launch.local_rank);
    run.rank = launch.rank;
    must::app::MetricsLog metrics(context.output_dir / "metrics.jsonl");
    run.metrics = [&](int64_t shard, const std::map<std::string, double>& values) { metrics.write(shard, values); };
    std::unique_ptr<must::distributed::StoreWorkQueue> shards;
    if (launch.world_size > 1) {  // the ranks share one counter of input shards on rank 0's store
      const auto timeout = std::chrono::milliseconds(int64_t(timeout_s * 1000));
      auto store = must::distributed::connect_store(launch, timeout);
      shards = std::make_unique<must::distributed::StoreWorkQueue>(store, "shards", launch.rank, launch.world_size, timeout);
      run.shards = shards.get();
      run.plan_checked = [store, timeout, &launch] {
        must::distributed::barrier(*store, "plan", launch.rank, launch.world_size, timeout);
      };
    }
    const must::pipelines::PseudolabelSummary s = must::pipelines::pseudolabel(context.config, run);
    spdlog::info("done in {:.1f} s: {} shards in the store; this run wrote {} ({} redone), kept {}; {} images labelled, "
                 "{} failed", s.seconds, s.shards, s.written, s.redone, s.kept, s.images, s.failed);
  };
  return must::app::run_tool(argc, argv, spec);
}
