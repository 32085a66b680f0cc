// Loading named tensors into a module: `--init-from FILE`, `must_eval --weights FILE`, a teacher's weights (a
// torchvision/PyTorch .pth or a .safetensors).
//
// Each file key lands on a model key: the key itself when the model has it (a file of ours), else the key under a
// prefix chosen for the whole file ("" or "backbone.body." or "backbone.": a torchvision ResNet lands in our
// backbone as it is), else torchvision's own place for what ours keep elsewhere (kTorchvisionPlaces: a classifier's
// `fc.*` in the classification head, a detector's two stages `rpn.*` and `roi_heads.*` in the detection head). So
// torchvision's classifiers and Faster R-CNN checkpoints load with no renaming.
#pragma once

#include <torch/nn/module.h>

#include <filesystem>
#include <string>
#include <utility>
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
  std::string mapping;                  // how file keys were mapped, for messages
  std::vector<std::string> loaded;      // model keys filled from the file
  std::vector<std::string> missing;     // model keys the file lacks (num_batches_tracked not counted)
  std::vector<std::string> unexpected;  // file keys the model lacks
  std::vector<std::string> left_out;    // file keys the model has, outside options.only
  // File keys that reached the model through torchvision's places but with another shape (a 1000-class ImageNet
  // `fc` over a 102-class head): skipped, as detectron2's checkpointer skips them; "fc.weight [1000, 512] ->
  // heads.classification.fc.weight [102, 512]".
  std::vector<std::string> skipped;
};

// Where torchvision keeps what our models keep elsewhere: {torchvision's key prefix, ours}.
inline constexpr std::pair<const char*, const char*> kTorchvisionPlaces[] = {
    {"fc.", "heads.classification.fc."}, {"rpn.", "heads.detection.rpn."}, {"roi_heads.", "heads.detection.roi_heads."}};

// Copies matching tensors into `module` (converting dtype, keeping the module's device and memory format).
// A shape mismatch throws must::Error naming the key and both shapes; `source` names the file in messages.
ImportReport load_state_dict(torch::nn::Module& module, const StateDict& tensors, const ImportOptions& options = {},
                             const std::string& source = "weights");
// read_state_dict + load_state_dict, logging the report.
ImportReport load_weights_file(torch::nn::Module& module, const std::filesystem::path& path,
                               const ImportOptions& options = {});
// load_weights_file for inference, where every model key (under options.only) must come from the file: throws
// must::Error naming the missing tensors, the file's key groups next to the model's, and the mapping tried.
ImportReport load_complete_weights(torch::nn::Module& module, const std::filesystem::path& path,
                                   const ImportOptions& options = {});
// Key groups of a list of names, as "backbone.body (320), heads.depth (9)": names counted by their first component,
// or their first two under a container (backbone, heads, rpn, roi_heads).
std::string key_groups(const std::vector<std::string>& names);

}  // namespace must::models
