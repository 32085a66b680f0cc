#include "must/models/weight_import.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must::models {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_text(const torch::Tensor& t) {
  std::vector<std::string> dims;
  for (int64_t d : t.sizes()) dims.push_back(std::to_string(d));
  return "[" + join(dims) + "]";
}

std::string first_few(const std::vector<std::string>& names) {
  const std::vector<std::string> shown(names.begin(), names.begin() + long(std::min<size_t>(5, names.size())));
  return join(shown) + (names.size() > shown.size() ? ", ..." : "");
}

// The model key of a file key: prefix + name, except that torchvision's detectors keep their two stages at the
// top level (rpn.*, roi_heads.*) where ours sit in the detection head (heads.detection.rpn.*, ...).
std::string model_key(const std::string& prefix, const std::string& name,
                      const std::map<std::string, torch::Tensor>& targets) {
  const std::string key = prefix + name;
  if (targets.count(key)) return key;
  for (const std::string stage : {"rpn.", "roi_heads."}) {
    if (name.rfind(stage, 0) == 0 && targets.count("heads.detection." + name)) return "heads.detection." + name;
  }
  return key;
}

}  // namespace

ImportReport load_state_dict(torch::nn::Module& module, const StateDict& tensors, const ImportOptions& options,
                             const std::string& source) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& [name, tensor] : module_state_dict(module)) targets[name] = tensor;

  ImportReport report;
  report.prefix = options.prefix;
  if (options.prefix == "auto") {
    size_t best = 0;
    report.prefix = "";
    for (const std::string candidate : {"", "backbone.body.", "backbone."}) {
      size_t matched = 0;
      for (const auto& entry : tensors) matched += targets.count(model_key(candidate, entry.first, targets));
      if (matched > best) best = matched, report.prefix = candidate;
    }
  }

  auto wanted = [&](const std::string& key) {
    if (options.only.empty()) return true;
    for (const std::string& prefix : options.only) {
      if (key.rfind(prefix, 0) == 0) return true;
    }
    return false;
  };
  torch::NoGradGuard no_grad;
  std::set<std::string> filled;
  for (const auto& [name, tensor] : tensors) {
    const std::string key = model_key(report.prefix, name, targets);
    auto target = targets.find(key);
    if (target == targets.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    if (!wanted(key)) {
      report.left_out.push_back(name);
      continue;
    }
    if (!target->second.sizes().equals(tensor.sizes())) {
      MUST_THROW(Error, source, ": '", name, "' has shape ", shape_text(tensor), " in the file but ",
                 shape_text(target->second), " in the model ('", key, "')");
    }
    target->second.copy_(tensor);
    filled.insert(key);
    report.loaded.push_back(key);
  }
  for (const auto& [key, tensor] : targets) {
    // Frozen batch norm in torchvision has no counter; it carries no information worth reporting.
    if (!filled.count(key) && wanted(key) && !ends_with(key, "num_batches_tracked")) report.missing.push_back(key);
  }
  if (options.strict && (!report.missing.empty() || !report.unexpected.empty())) {
    MUST_THROW(Error, source, ": strict import failed: ", report.missing.size(), " missing (",
               first_few(report.missing), "), ", report.unexpected.size(), " unexpected (", first_few(report.unexpected),
               ")");
  }
  return report;
}

ImportReport load_weights_file(torch::nn::Module& module, const std::filesystem::path& path,
                               const ImportOptions& options) {
  const ImportReport report = load_state_dict(module, read_state_dict(path), options, "'" + path.string() + "'");
  spdlog::info("init from {}: {} tensors loaded (key prefix '{}'{}), {} missing, {} unexpected{}", path.string(),
               report.loaded.size(), report.prefix, options.only.empty() ? "" : "; only " + join(options.only),
               report.missing.size(), report.unexpected.size(),
               report.left_out.empty() ? "" : fmt::format(", {} left out", report.left_out.size()));
  if (!report.missing.empty()) spdlog::info("  missing: {}", join(report.missing));
  if (!report.unexpected.empty()) spdlog::info("  unexpected: {}", join(report.unexpected));
  return report;
}

}  // namespace must::models
