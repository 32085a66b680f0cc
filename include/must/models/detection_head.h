// The detection head of the multi-task model (docs/architecture.md): Faster R-CNN's two stages on the shared FPN,
// behind the same head interface as the others. The RPN reads every pyramid level (p2..p6), the RoI heads
// pool p2..p5. Parameter names are torchvision's under heads.detection (rpn.*, roi_heads.*), so a torchvision
// detector's weights import with the key rename in weight_import.
//
// Labels at this interface are 0-based classes (targets and detections); the RoI heads' class 0 is the
// background, so they see label + 1. In training mode with targets the head returns losses only (the RPN's
// and the RoI heads', over the samples whose presence bit is on; none when no sample has labels); otherwise
// it returns detections.
#pragma once

#include "must/models/heads.h"

namespace must::models {

class DetectionHeadImpl final : public TaskHeadImpl {
 public:
  explicit DetectionHeadImpl(const HeadOptions& options);
  HeadOutput forward(const HeadInputs& inputs, const structures::TaskTargets* targets) override;
  // In training, the second stage runs on the proposals of the samples labelled for detection alone (none: not
  // at all), so its batch norms (box_head 4conv1fc) cannot be synchronised.
  bool runs_whole_every_training_step() const override { return false; }

  RegionProposalNetwork rpn{nullptr};
  RoiHeads roi_heads{nullptr};

 private:
  int64_t classes_;             // without background
  size_t pooled_levels_ = 4;    // p2..p5 for the RoI heads
};

}  // namespace must::models
