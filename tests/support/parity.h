// Helpers of the parity tests: reference files made at test time by tests/parity/make_fixtures.py with Debian's
// python3-torchvision, read back with our own state-dict reader. Header-only: only torch tests include it.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "must/models/state_dict_file.h"
#include "test_support.h"

namespace must::test {

// Runs `make_fixtures.py <arguments> <dir>`; the files land in `dir`.
inline void make_fixture(const std::string& arguments, const std::filesystem::path& dir) {
  const auto result = run_command(must::test::python() + " " + source_path("tests/parity/make_fixtures.py").string() + " " +
                                  arguments + " " + dir.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
}

inline std::map<std::string, torch::Tensor> read_tensors(const std::filesystem::path& file) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, tensor] : models::read_state_dict(file)) out[name] = tensor;
  return out;
}

// max |actual - expected| <= relative * max |expected| (or <= absolute, whichever is larger).
inline void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double relative,
                         const std::string& what, double absolute = 0) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = expected.numel() ? expected.abs().max().item<double>() : 0;
  const double error = expected.numel() ? (actual - expected).abs().max().item<double>() : 0;
  EXPECT_LE(error, std::max(relative * scale, absolute)) << what << ": max abs diff " << error << ", max |ref| " << scale;
}

// Detections compared with a reference as sets: the same count, and each reference detection matched by one of
// ours with its label, its score within score_tolerance and its box within box_tolerance. Order is not compared:
// with random weights, detections of equal score come out of different sort implementations in different orders
// (on one machine torchvision's and ours agreed, on another two tied detections came out swapped).
inline void expect_same_detections(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& labels,
                                   const torch::Tensor& expected_boxes, const torch::Tensor& expected_scores,
                                   const torch::Tensor& expected_labels, double box_tolerance, double score_tolerance,
                                   const std::string& what) {
  ASSERT_EQ(boxes.sizes(), expected_boxes.sizes()) << what;
  const int64_t n = boxes.size(0);
  std::vector<bool> taken(static_cast<size_t>(n), false);
  int64_t unmatched = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool found = false;
    for (int64_t j = 0; j < n && !found; ++j) {
      if (taken[size_t(j)] || labels[j].item<int64_t>() != expected_labels[i].item<int64_t>()) continue;
      if (std::abs(scores[j].item<double>() - expected_scores[i].item<double>()) > score_tolerance) continue;
      if ((boxes[j] - expected_boxes[i]).abs().max().item<double>() > box_tolerance) continue;
      taken[size_t(j)] = found = true;
    }
    if (!found) {
      ++unmatched;
      ADD_FAILURE() << what << ": reference detection " << i << " (label " << expected_labels[i].item<int64_t>()
                    << ", score " << expected_scores[i].item<double>() << ") has no match";
    }
  }
  EXPECT_EQ(unmatched, 0) << what;
}

}  // namespace must::test
