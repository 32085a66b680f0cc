// must_bench_random_teacher --config TEACHER.yaml --output WEIGHTS.safetensors [--seed N]
// Writes the freshly initialised weights of a teacher config's model: the pseudo-labelling benchmark runs
// teachers with random weights, as bench/peers/peer_pseudolabel.py does (the work is the same).
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <iostream>

#include "must/config/config.h"
#include "must/models/model_config.h"
#include "must/models/multi_task_model.h"
#include "must/models/state_dict_file.h"
#include "must/pipelines/evaluate.h"

int main(int argc, char** argv) {
  CLI::App cli{"Writes a teacher config's model with freshly initialised weights, as safetensors."};
  std::string config, output;
  uint64_t seed = 0;
  cli.add_option("--config", config, "a teacher config (its model: section)")->required();
  cli.add_option("--output", output, "the .safetensors file to write")->required();
  cli.add_option("--seed", seed, "initialisation seed");
  CLI11_PARSE(cli, argc, argv);
  try {
    torch::manual_seed(seed);
    const auto resolved = must::config::Config::load(must::pipelines::eval_schema(), config);
    must::models::MultiTaskModel model(must::models::model_options_from_config(resolved.at("model")));
    must::models::write_safetensors(output, must::models::module_state_dict(*model));
  } catch (const std::exception& e) {
    std::cerr << "must_bench_random_teacher: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
