// torchvision checkpoints as a user has them (torch.save(model.state_dict())), through must_eval and
// must_pseudolabel with no renaming, against torchvision's own predictions: torchvision_checkpoints.py does the work
// with Debian's python3-torchvision and lists every difference. And the same kind of models exported as
// TorchScript, through must_pseudolabel.
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

// TorchScript teachers of five tasks (torchvision's scripted resnet18 and fasterrcnn_resnet50_fpn, small dense
// networks scripted and traced), each with its own input normalisation and size, through must_pseudolabel against
// PyTorch running the same modules: torchscript_teachers.py.
TEST(TorchscriptTeachers, FiveTasksLabelAsPytorchRunsTheSameModules) {
  test::ScratchDir dir;
  const auto result = test::run_command(test::python() + " " +
                                        test::source_path("tests/integration/torchscript_teachers.py").string() +
                                        " " + test::tool_path("") + " " + dir.path().string());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("ok: 6 images labelled by 5 TorchScript teachers as PyTorch labels them"),
            std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace must
