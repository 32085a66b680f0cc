#include "must/models/state_dict_file.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "must/core/check.h"
#include "must/core/fs.h"
#include "must/models/resnet.h"
#include "test_support.h"

namespace must::models {
namespace {

std::string error_of(const std::filesystem::path& path) {
  try {
    read_state_dict(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripsEveryTensorExactly) {
  test::ScratchDir dir;
  torch::manual_seed(3);
  const StateDict tensors = {{"a.weight", torch::randn({3, 4})},
                             {"a.half", torch::randn({5}).to(torch::kHalf)},
                             {"b.count", torch::tensor(int64_t(7))},
                             {"b.mask", torch::tensor({true, false, true})},
                             {"c.strided", torch::randn({4, 6}).t()}};  // non-contiguous input
  write_safetensors(dir / "w.safetensors", tensors, {{"format", "pt"}});
  const StateDict back = read_state_dict(dir / "w.safetensors");
  ASSERT_EQ(back.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(back[i].first, tensors[i].first);
    EXPECT_EQ(back[i].second.scalar_type(), tensors[i].second.scalar_type());
    EXPECT_TRUE(torch::equal(back[i].second, tensors[i].second)) << back[i].first;
  }
}

TEST(Safetensors, ModelWeightsRoundTrip) {
  test::ScratchDir dir;
  ResNet a(ResNetOptions(18).width_multiplier(0.25).num_classes(3));
  write_safetensors(dir / "m.safetensors", module_state_dict(*a));
  ResNet b(ResNetOptions(18).width_multiplier(0.25).num_classes(3));
  const StateDict loaded = read_state_dict(dir / "m.safetensors");
  const StateDict original = module_state_dict(*a);
  ASSERT_EQ(loaded.size(), original.size());
  for (size_t i = 0; i < loaded.size(); ++i) EXPECT_TRUE(torch::equal(loaded[i].second, original[i].second));
}

TEST(StateDictFile, BrokenFilesAreNamedWithTheProblem) {
  test::ScratchDir dir;
  test::write_text(dir / "text.pth", "hello, this is not a checkpoint");
  EXPECT_NE(error_of(dir / "text.pth").find("neither a torch.save (.pth) nor a .safetensors file"), std::string::npos);
  EXPECT_NE(error_of(dir / "missing.pth").find("missing.pth"), std::string::npos);

  write_safetensors(dir / "good.safetensors", {{"x", torch::ones({4})}});
  const std::string good = read_file(dir / "good.safetensors");
  test::write_text(dir / "truncated.safetensors", good.substr(0, good.size() - 3));
  EXPECT_NE(error_of(dir / "truncated.safetensors").find("data offsets outside the file"), std::string::npos)
      << error_of(dir / "truncated.safetensors");
  std::string bad_json = good;
  bad_json[9] = '[';
  test::write_text(dir / "bad.safetensors", bad_json);
  EXPECT_NE(error_of(dir / "bad.safetensors").find("malformed header JSON"), std::string::npos);

  // A torch.save zip cut short loses its central directory.
  torch::Tensor t = torch::ones({2});
  test::write_text(dir / "zip.pth", std::string("PK\x03\x04", 4) + std::string(100, 'x'));
  EXPECT_NE(error_of(dir / "zip.pth").find("end-of-central-directory"), std::string::npos) << error_of(dir / "zip.pth");
  test::write_text(dir / "legacy.pth", std::string("\x80\x02\x8a\x0a", 4) + "legacy pickle");
  EXPECT_NE(error_of(dir / "legacy.pth").find("legacy"), std::string::npos);
}

}  // namespace
}  // namespace must::models
