#include "must/models/weight_import.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "must/core/check.h"
#include "must/core/strings.h"

namespace must::models {
namespace {

std::string shape_text(const torch::Tensor& t) {
  std::vector<std::string> dims;
  for (int64_t d : t.sizes()) dims.push_back(std::to_string(d));
  return "[" + join(dims) + "]";
}

std::string first_few(const std::vector<std::string>& names) {
  const std::vector<std::string> shown(names.begin(), names.begin() + long(std::min<size_t>(5, names.size())));
  return join(shown) + (names.size() > shown.size() ? ", ..." : "");
}

// The model key of a file key (the header's rule), and whether it came through torchvision's places.
std::pair<std::string, bool> model_key(const std::string& prefix, const std::string& name,
                                       const std::map<std::string, torch::Tensor>& targets) {
  if (targets.count(name)) return {name, false};
  const std::string key = prefix + name;
  if (targets.count(key)) return {key, false};
  for (const auto& [theirs, ours] : kTorchvisionPlaces) {
    const std::string from(theirs);
    if (name.rfind(from, 0) != 0) continue;
    const std::string mapped = ours + name.substr(from.size());
    if (targets.count(mapped)) return {mapped, true};
  }
  return {key, false};
}

std::string mapping_text(const std::string& prefix) {
  std::string places;
  for (const auto& [theirs, ours] : kTorchvisionPlaces) places += std::string(places.empty() ? "" : ", ") + theirs + " -> " + ours;
  return "each key as it is, else under the prefix '" + prefix + "', else torchvision's places (" + places + ")";
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
      for (const auto& entry : tensors) matched += targets.count(model_key(candidate, entry.first, targets).first);
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
  report.mapping = mapping_text(report.prefix);
  for (const auto& [name, tensor] : tensors) {
    const auto [key, torchvision_place] = model_key(report.prefix, name, targets);
    auto target = targets.find(key);
    if (target == targets.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    if (!wanted(key)) {
      report.left_out.push_back(name);
      continue;
    }
    if (!target->second.sizes().equals(tensor.sizes()) && torchvision_place) {
      report.skipped.push_back(name + " " + shape_text(tensor) + " -> " + key + " " + shape_text(target->second));
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
  if (!report.skipped.empty()) spdlog::info("  skipped, their shapes differ: {}", join(report.skipped));
  return report;
}

std::string key_groups(const std::vector<std::string>& names) {
  static const std::set<std::string> kContainers = {"backbone", "heads", "rpn", "roi_heads"};
  std::map<std::string, int64_t> counts;
  for (const std::string& name : names) {
    const std::vector<std::string> parts = split(name, '.');
    std::string group = parts[0];
    if (parts.size() > 2 && kContainers.count(parts[0])) group += "." + parts[1];
    ++counts[group];
  }
  std::string out;
  for (const auto& [group, count] : counts) out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", group, count);
  return out.empty() ? "none" : out;
}

ImportReport load_complete_weights(torch::nn::Module& module, const std::filesystem::path& path,
                                   const ImportOptions& options) {
  const StateDict tensors = read_state_dict(path);
  const ImportReport report = load_state_dict(module, tensors, options, "'" + path.string() + "'");
  if (report.missing.empty()) {
    spdlog::info("weights {}: {} tensors loaded (key prefix '{}'){}", path.string(), report.loaded.size(), report.prefix,
                 report.unexpected.empty() ? "" : fmt::format("; not in the model: {}", key_groups(report.unexpected)));
    return report;
  }
  std::vector<std::string> file_keys, model_keys;
  for (const auto& [name, tensor] : tensors) file_keys.push_back(name);
  for (const auto& [name, tensor] : module_state_dict(module)) {
    if (!ends_with(name, "num_batches_tracked")) model_keys.push_back(name);
  }
  MUST_THROW(Error, path.string(), ": ", report.missing.size(), " model tensor(s) are not in the file (",
             first_few(report.missing), ")", report.skipped.empty() ? "" : "; skipped for their shapes: " + first_few(report.skipped),
             ". The file's keys: ", key_groups(file_keys), ". The model's: ", key_groups(model_keys),
             ". Mapped: ", report.mapping, ". Does the config's model section (backbone depth and width, heads and "
             "their num_outputs) describe the network these weights come from?");
}

}  // namespace must::models
