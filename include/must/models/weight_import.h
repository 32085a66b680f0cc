// Loading named tensors into a module: `--init-from FILE` (a torchvision/PyTorch .pth or a .safetensors).
#pragma once

#include <torch/nn/module.h>

#include <filesystem>
#include <string>
#include <vector>

#include "must/models/state_dict_file.h"

namespace must::models {

struct ImportOptions {
  // Prepended to every file key before matching. "auto" picks, among "", "backbone.body." and "backbone.", the
  // one that matches most model keys: a torchvision ImageNet ResNet then lands in a detector's or multi-task
  // model's backbone as it is.
  std::string prefix = "auto";
  bool strict = false;  // missing or unexpected keys are errors instead of being reported
  // Model-key prefixes to fill (none: all). File keys whose model key lies elsewhere are left out, and only model
  // keys under these count as missing: a fine-tune takes a student's backbone and leaves its heads ({"backbone."}).
  std::vector<std::string> only;
};

struct ImportReport {
  std::string prefix;                   // the prefix used
  std::vector<std::string> loaded;      // model keys filled from the file
  std::vector<std::string> missing;     // model keys the file lacks (num_batches_tracked not counted)
  std::vector<std::string> unexpected;  // file keys the model lacks
  std::vector<std::string> left_out;    // file keys the model has, outside options.only
};

// Copies matching tensors into `module` (converting dtype, keeping the module's device and memory format).
// A shape mismatch throws must::Error naming the key and both shapes; `source` names the file in messages.
ImportReport load_state_dict(torch::nn::Module& module, const StateDict& tensors, const ImportOptions& options = {},
                             const std::string& source = "weights");
// read_state_dict + load_state_dict, logging the report.
ImportReport load_weights_file(torch::nn::Module& module, const std::filesystem::path& path,
                               const ImportOptions& options = {});

}  // namespace must::models
