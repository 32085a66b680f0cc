// torchvision checkpoints as a user has them (torch.save(model.state_dict())), through must_eval and
// must_pseudolabel with no renaming, against torchvision's own predictions: torchvision_checkpoints.py does the work
// with Debian's python3-torchvision and lists every difference.
#include <gtest/gtest.h>

#include "test_support.h"

namespace must {
namespace {

TEST(TorchvisionCheckpoints, Resnet18AndFasterRcnnPredictAsInTorchvisionThroughEvalAndPseudolabel) {
  test::ScratchDir dir;
  const auto result = test::run_command(test::python() + " " +
                                        test::source_path("tests/integration/torchvision_checkpoints.py").string() +
                                        " " + test::tool_path("") + " " + dir.path().string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("ok: 6 images, top 5 and 600 torchvision detections matched"), std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace must
