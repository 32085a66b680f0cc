// must_make_world: writes the built-in synthetic multi-task dataset (docs/formats.md, the world), or a preview
// sheet of it.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "must/app/metrics_log.h"
#include "must/app/tool.h"
#include "must/world/world_writer.h"

int main(int argc, char** argv) {
  int preview = 0;
  std::string preview_split = "val";
  must::app::ToolSpec spec;
  spec.name = "must_make_world";
  spec.description =
      "Renders the world: small 3-D scenes with exact labels for classification, detection, segmentation, depth "
      "and surface normals, in teacher, unlabeled, validation and downstream splits.";
  spec.defaults = must::world::world_defaults();
  spec.add_flags = [&](CLI::App& cli) {
    cli.add_option("--preview", preview, "write only preview.png: a contact sheet of N samples")->check(CLI::Range(1, 1000));
    cli.add_option("--preview-split", preview_split, "split the preview draws from")->capture_default_str();
  };
  spec.run = [&](must::app::ToolContext& context) {
    const auto options = must::world::world_options_from_config(context.config.at("world"));
    if (preview > 0) {
      const auto file = context.output_dir / "preview.png";
      must::world::write_preview(options, preview_split, preview, file);
      spdlog::info("wrote {}", file.string());
      return;
    }
    const auto summary = must::world::write_world(options, context.output_dir, context.threads);
    const double rate = summary.images / std::max(summary.seconds, 1e-9);
    spdlog::info("wrote {} images in {:.2f} s ({:.0f} images/s) to {}", summary.images, summary.seconds, rate,
                 context.output_dir.string());
    must::app::MetricsLog(context.output_dir / "metrics.jsonl")
        .write(0, {{"world/images", double(summary.images)}, {"world/images_per_s", rate}});
  };
  return must::app::run_tool(argc, argv, spec);
}
