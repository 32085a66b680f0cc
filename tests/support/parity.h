// Helpers of the parity tests: reference files made at test time by tests/parity/make_fixtures.py with Debian's
// python3-torchvision, read back with our own state-dict reader. Header-only: only torch tests include it.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "must/models/state_dict_file.h"
#include "test_support.h"

namespace must::test {

// Runs `make_fixtures.py <arguments> <dir>`; the files land in `dir`.
inline void make_fixture(const std::string& arguments, const std::filesystem::path& dir) {
  const auto result = run_command("/usr/bin/python3 " + source_path("tests/parity/make_fixtures.py").string() + " " +
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

}  // namespace must::test
