#include "must/eval/visualize.h"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "must/core/check.h"

namespace must::eval {
namespace {

// Twenty well-separated colours (RGB), one per class modulo 20.
const cv::Scalar kPalette[] = {{230, 25, 75},  {60, 180, 75},   {255, 225, 25}, {0, 130, 200},  {245, 130, 48},
                               {145, 30, 180}, {70, 240, 240},  {240, 50, 230}, {210, 245, 60}, {250, 190, 212},
                               {0, 128, 128},  {220, 190, 255}, {170, 110, 40}, {255, 250, 200}, {128, 0, 0},
                               {170, 255, 195}, {128, 128, 0},  {255, 215, 180}, {0, 0, 128},   {128, 128, 128}};

cv::Scalar colour_of(int64_t k) { return kPalette[size_t(std::max<int64_t>(k, 0) % 20)]; }

// A cv::Mat over a contiguous uint8 [H, W, 3] tensor (no copy), and back.
cv::Mat as_mat(torch::Tensor& image) {
  return cv::Mat(int(image.size(0)), int(image.size(1)), CV_8UC3, image.data_ptr<uint8_t>());
}
torch::Tensor as_tensor(const cv::Mat& mat) {
  MUST_CHECK(mat.type() == CV_8UC3 && mat.isContinuous(), "a picture should be a continuous 8-bit RGB image");
  return torch::from_blob(mat.data, {mat.rows, mat.cols, 3}, torch::kUInt8).clone();
}

std::string name_of(const PictureOptions& options, Task task, int64_t k) {
  const auto names = options.class_names.find(task);
  if (names != options.class_names.end() && k >= 0 && k < int64_t(names->second.size())) return names->second[size_t(k)];
  return std::to_string(k);
}

// White text on a dark strip, readable on any image.
void label(cv::Mat& panel, const std::string& text, cv::Point at, const cv::Scalar& strip = {0, 0, 0}) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, &baseline);
  at.y = std::max(at.y, size.height + 2);
  cv::rectangle(panel, {at.x, at.y - size.height - 2}, {at.x + size.width + 2, at.y + baseline}, strip, cv::FILLED);
  cv::putText(panel, text, {at.x + 1, at.y - 1}, cv::FONT_HERSHEY_SIMPLEX, 0.45, {255, 255, 255}, 1, cv::LINE_AA);
}

// The image panel: the image with the top class and the boxes.
void draw_image_panel(cv::Mat& panel, double scale, const std::map<Task, ImagePrediction>& predictions,
                      const PictureOptions& options) {
  for (const auto& [task, prediction] : predictions) {
    if (task_spec(task).target != TargetKind::kBoxes) continue;
    for (const DetectedBox& d : prediction.detections) {
      if (d.score < options.box_threshold) continue;
      const cv::Point corner(int(std::lround(d.box.x * scale)), int(std::lround(d.box.y * scale)));
      const cv::Point opposite(int(std::lround((d.box.x + d.box.w) * scale)), int(std::lround((d.box.y + d.box.h) * scale)));
      cv::rectangle(panel, corner, opposite, colour_of(d.category), 2, cv::LINE_8);
      label(panel, fmt::format("{} {:.2f}", name_of(options, task, d.category), d.score), corner, colour_of(d.category));
    }
  }
  for (const auto& [task, prediction] : predictions) {
    if (task_spec(task).target != TargetKind::kClassVector || !prediction.values.defined()) continue;
    const int64_t top = prediction.values[0].item<int64_t>();
    label(panel, fmt::format("{} {:.2f}", name_of(options, task, top), prediction.scores[0].item<double>()),
          {2, panel.rows - 4});
  }
}

// A dense prediction's panel at the image's size (before enlargement), or an empty Mat for other kinds.
cv::Mat dense_panel(const cv::Mat& image, const ImagePrediction& prediction, TargetKind kind, std::string* caption) {
  if (kind == TargetKind::kClassVector || kind == TargetKind::kBoxes || !prediction.values.defined()) return cv::Mat();
  const torch::Tensor values = prediction.values.to(torch::kCPU);
  switch (kind) {
    case TargetKind::kClassMap: {
      // Every pixel's class colour at once: the palette as a [20, 3] table, indexed by class modulo 20.
      torch::Tensor palette = torch::empty({20, 3}, torch::kUInt8);
      for (int64_t k = 0; k < 20; ++k) {
        for (int64_t c = 0; c < 3; ++c) palette[k][c] = int(kPalette[k][int(c)]);
      }
      const torch::Tensor classes = values.to(torch::kLong).reshape({-1}).clamp_min(0).remainder(20);
      torch::Tensor colours = palette.index_select(0, classes).view({image.rows, image.cols, 3}).contiguous();
      cv::Mat blended;
      cv::addWeighted(image, 0.5, as_mat(colours), 0.5, 0, blended);
      return blended;
    }
    case TargetKind::kFloatMap: {
      const torch::Tensor depth = values.reshape({image.rows, image.cols}).to(torch::kFloat);
      const torch::Tensor valid = depth > 0;
      cv::Mat coloured(image.size(), CV_8UC3, cv::Scalar(0, 0, 0));
      if (!valid.any().item<bool>()) return coloured;
      const torch::Tensor inverse = 1.0f / depth.masked_select(valid);
      const float low = inverse.quantile(0.02).item<float>(), high = inverse.quantile(0.98).item<float>();
      // 1..255 for valid pixels (the far end included), 0 only for invalid ones, which are painted black
      const torch::Tensor level = ((1.0f / depth.clamp_min(1e-6f) - low) / std::max(high - low, 1e-6f) * 254 + 1).clamp(1, 255);
      torch::Tensor grey = (level * valid).to(torch::kUInt8).contiguous();
      cv::Mat grey_mat(image.rows, image.cols, CV_8UC1, grey.data_ptr<uint8_t>());
      cv::Mat bgr;
      cv::applyColorMap(grey_mat, bgr, cv::COLORMAP_TURBO);
      cv::cvtColor(bgr, coloured, cv::COLOR_BGR2RGB);
      coloured.setTo(cv::Scalar(0, 0, 0), grey_mat == 0);
      *caption = fmt::format("{:.2f}-{:.2f} m", 1.0 / high, 1.0 / low);
      return coloured;
    }
    case TargetKind::kUnitVectorMap: {
      torch::Tensor rgb = ((values.to(torch::kFloat) + 1) / 2 * 255).clamp(0, 255);
      rgb = (rgb * values.ne(0).any(0, true)).round().to(torch::kUInt8).permute({1, 2, 0}).contiguous();
      return as_mat(rgb).clone();
    }
    default: return cv::Mat();
  }
}

}  // namespace

torch::Tensor prediction_picture(const torch::Tensor& image, const std::map<Task, ImagePrediction>& predictions,
                                 const PictureOptions& options) {
  MUST_CHECK(image.dim() == 3 && image.size(2) == 3 && image.scalar_type() == torch::kUInt8,
             "a picture needs the uint8 [H, W, 3] image, got ", image.sizes());
  torch::Tensor pixels = image.contiguous();
  const cv::Mat original = as_mat(pixels);
  const double scale = std::max(1.0, double(options.min_side) / double(original.rows));
  const cv::Size size(int(std::lround(original.cols * scale)), int(std::lround(original.rows * scale)));
  auto enlarged = [&](const cv::Mat& panel) {
    cv::Mat out;
    cv::resize(panel, out, size, 0, 0, scale > 1 ? cv::INTER_NEAREST : cv::INTER_AREA);
    return out;
  };
  std::vector<cv::Mat> panels{enlarged(original)};
  draw_image_panel(panels[0], scale, predictions, options);
  for (const auto& [task, prediction] : predictions) {
    std::string caption;
    const cv::Mat panel = dense_panel(original, prediction, task_spec(task).target, &caption);
    if (panel.empty()) continue;
    panels.push_back(enlarged(panel));
    label(panels.back(), std::string(task_name(task)) + (caption.empty() ? "" : " " + caption), {2, panels.back().rows - 4});
  }
  cv::Mat picture;
  cv::hconcat(panels, picture);
  return as_tensor(picture);
}

torch::Tensor thumbnail(const torch::Tensor& picture, int64_t height) {
  torch::Tensor pixels = picture.contiguous();
  const cv::Mat mat = as_mat(pixels);
  const double scale = double(height) / double(mat.rows);
  cv::Mat out;
  cv::resize(mat, out, {std::max(1, int(std::lround(mat.cols * scale))), int(height)}, 0, 0,
             scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return as_tensor(out);
}

torch::Tensor contact_sheet(const std::vector<torch::Tensor>& thumbnails, int64_t columns) {
  MUST_CHECK(!thumbnails.empty() && columns > 0, "a contact sheet needs thumbnails and columns");
  const int gap = 4;
  int cell_w = 0, cell_h = 0;
  for (const auto& t : thumbnails) cell_w = std::max(cell_w, int(t.size(1))), cell_h = std::max(cell_h, int(t.size(0)));
  const int cols = int(std::min<int64_t>(columns, int64_t(thumbnails.size())));
  const int rows = int((int64_t(thumbnails.size()) + cols - 1) / cols);
  cv::Mat sheet(gap + rows * (cell_h + gap), gap + cols * (cell_w + gap), CV_8UC3, cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < thumbnails.size(); ++i) {
    torch::Tensor pixels = thumbnails[i].contiguous();
    const cv::Mat mat = as_mat(pixels);
    const int x = gap + int(i % size_t(cols)) * (cell_w + gap), y = gap + int(i / size_t(cols)) * (cell_h + gap);
    mat.copyTo(sheet(cv::Rect(x, y, mat.cols, mat.rows)));
  }
  return as_tensor(sheet);
}

}  // namespace must::eval
