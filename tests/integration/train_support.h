// What the training tools' integration tests share: their metrics read back, and weight files compared.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "must/config/config.h"
#include "must/core/fs.h"
#include "must/eval/eval_config.h"
#include "must/models/model_config.h"
#include "must/models/state_dict_file.h"
#include "must/pipelines/evaluate.h"
#include "test_support.h"

namespace must::test {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

using StepMetrics = std::map<int64_t, std::map<std::string, double>>;

// metrics.jsonl as {step: {key: value}}, later lines of a step replacing earlier ones key by key.
inline StepMetrics read_metrics(const std::filesystem::path& file) {
  StepMetrics out;
  std::istringstream lines(read_file(file));
  std::string line;
  while (std::getline(lines, line)) {
    const auto json = nlohmann::json::parse(line);
    for (const auto& [key, value] : json.items()) {
      if (key != "step" && value.is_number()) out[json["step"].get<int64_t>()][key] = value.get<double>();
    }
  }
  return out;
}

// Steps `first` to `last` of `got` log every loss term and the gradient norm that `expected` logs, each within
// `relative` of it: two runs that should take the same steps (ranks against one process, a resumed run against a
// straight one) compared step by step, so that a difference shows where it starts, not only in the final weights.
inline void expect_same_steps(const StepMetrics& expected, const StepMetrics& got, int64_t first, int64_t last,
                              double relative) {
  for (int64_t step = first; step <= last; ++step) {
    ASSERT_TRUE(expected.count(step) && got.count(step)) << "step " << step;
    for (const auto& [key, value] : expected.at(step)) {
      if (key.rfind("loss/", 0) != 0 && key != "grad_norm") continue;
      ASSERT_TRUE(got.at(step).count(key)) << key << " at step " << step;
      EXPECT_NEAR(got.at(step).at(key), value, relative * std::abs(value)) << key << " at step " << step;
    }
  }
}

// Two weight files hold the same tensors, each floating-point one within `relative` of the first's largest value.
inline void expect_same_weights(const std::filesystem::path& first, const std::filesystem::path& second, double relative) {
  const auto a = models::read_state_dict(first);
  const auto b = models::read_state_dict(second);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    if (!a[i].second.is_floating_point()) continue;
    const double scale = std::max(a[i].second.abs().max().item<double>(), 1e-12);
    EXPECT_LE((a[i].second - b[i].second).abs().max().item<double>() / scale, relative) << a[i].first;
  }
}

// The five quick teachers (configs/quick/teachers) with freshly initialised weights (seed = the task's place), written
// to DIR/<task>/model_final.safetensors; returns must_pseudolabel's `teachers:` section naming them. For tests
// where the labels' values do not matter, only that every run computes the same ones.
inline std::string write_random_quick_teachers(const std::filesystem::path& dir) {
  const std::vector<std::string> tasks = {"classification", "detection", "segmentation", "depth", "normals"};
  std::string teachers = "teachers:\n";
  for (size_t t = 0; t < tasks.size(); ++t) {
    const std::string config = source_path("configs/quick/teachers/" + tasks[t] + ".yaml").string();
    const std::filesystem::path weights = dir / tasks[t] / "model_final.safetensors";
    torch::manual_seed(int64_t(t));
    models::MultiTaskModel model(
        models::model_options_from_config(config::Config::load(pipelines::eval_schema(), config).at("model")));
    std::filesystem::create_directories(weights.parent_path());
    models::write_safetensors(weights, models::module_state_dict(*model));
    teachers += "  " + tasks[t] + ": {config: " + config + ", weights: " + weights.string() + "}\n";
  }
  return teachers;
}

}  // namespace must::test
