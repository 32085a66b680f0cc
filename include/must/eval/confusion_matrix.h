// Semantic segmentation scores from one confusion matrix over a whole split (rows: ground truth, columns:
// prediction), as VOC's VOCevalseg.m and cityscapesScripts accumulate it: pixels whose ground truth is the
// ignore value are skipped (a void pixel predicted as class c is not a false positive of c). Per class
// IoU = TP / (TP + FP + FN); a class absent from both ground truth and prediction has no IoU (NaN) and is left
// out of the mean, as cityscapesScripts' getScoreAverage does.
//
// A prediction may be "no class" (kNoClass: an official result format's 0 in ADE20K's SceneParsing, or a
// Cityscapes labelId that is not evaluated): a miss of the ground-truth class, a false positive of none, as
// cityscapesScripts counts ignoreInEval predictions and SceneParsing counts 0.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace must::eval {

class ConfusionMatrix {
 public:
  static constexpr int64_t kNoClass = -1;  // a predicted pixel of no class

  explicit ConfusionMatrix(int64_t num_classes, int64_t ignore_value = 255);
  // truth, prediction: integer maps of the same shape. Throws must::Error naming the value when a ground-truth
  // pixel (other than the ignore value) or a predicted one (other than kNoClass) lies outside [0, num_classes).
  void add(const torch::Tensor& truth, const torch::Tensor& prediction);
  void reset();

  std::vector<double> iou() const;  // per class, 0..1; NaN for a class absent from ground truth and prediction
  double mean_iou() const;          // over the classes with an IoU; NaN when none
  double pixel_accuracy() const;    // correct / scored pixels; NaN when none were scored
  int64_t scored_pixels() const;   // including those predicted as no class
  int64_t num_classes() const { return classes_; }
  const std::vector<int64_t>& counts() const { return counts_; }  // [truth * num_classes + prediction]

 private:
  int64_t classes_, ignore_;
  std::vector<int64_t> counts_;
  std::vector<int64_t> missed_;  // per ground-truth class: pixels predicted as no class
};

}  // namespace must::eval
