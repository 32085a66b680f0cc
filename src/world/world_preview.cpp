// must_make_world --preview: a contact sheet a person can look at to check the data and its labels.
#include <algorithm>

#include "must/core/check.h"
#include "must/data/image_io.h"
#include "must/world/world_writer.h"

namespace must::world {
namespace {

constexpr int kColumns = 5;  // image | class map | depth | normals | boxes
constexpr int kGap = 2;

struct Rgb {
  uint8_t r, g, b;
};

// Distinct colours for class indices (the VOC "bitget" colour map).
Rgb class_colour(int index) {
  Rgb c{0, 0, 0};
  for (int bit = 0; bit < 8; ++bit) {
    c.r |= uint8_t(((index >> 0) & 1) << (7 - bit));
    c.g |= uint8_t(((index >> 1) & 1) << (7 - bit));
    c.b |= uint8_t(((index >> 2) & 1) << (7 - bit));
    index >>= 3;
  }
  return c;
}

class Sheet {
 public:
  Sheet(int rows, int tile_h, int tile_w, int zoom)
      : tile_h_(tile_h), tile_w_(tile_w), zoom_(zoom),
        width_(kColumns * (tile_w * zoom + kGap) + kGap),
        height_(rows * (tile_h * zoom + kGap) + kGap),
        pixels_(size_t(width_) * height_ * 3, 255) {}

  // Draws tile (row, column) from a colour function of the source pixel.
  template <class ColourOf>
  void tile(int row, int column, ColourOf colour_of) {
    const int x0 = kGap + column * (tile_w_ * zoom_ + kGap), y0 = kGap + row * (tile_h_ * zoom_ + kGap);
    for (int y = 0; y < tile_h_ * zoom_; ++y) {
      for (int x = 0; x < tile_w_ * zoom_; ++x) {
        const Rgb c = colour_of(size_t(y / zoom_) * tile_w_ + x / zoom_);
        uint8_t* p = &pixels_[(size_t(y0 + y) * width_ + x0 + x) * 3];
        p[0] = c.r;
        p[1] = c.g;
        p[2] = c.b;
      }
    }
  }

  // Outlines a box given in source pixels (inclusive corners) on tile (row, column).
  void outline(int row, int column, int bx0, int by0, int bx1, int by1, Rgb c) {
    const int x0 = kGap + column * (tile_w_ * zoom_ + kGap), y0 = kGap + row * (tile_h_ * zoom_ + kGap);
    const int left = x0 + bx0 * zoom_, right = x0 + (bx1 + 1) * zoom_ - 1;
    const int top = y0 + by0 * zoom_, bottom = y0 + (by1 + 1) * zoom_ - 1;
    auto put = [&](int x, int y) {
      uint8_t* p = &pixels_[(size_t(y) * width_ + x) * 3];
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    };
    for (int x = left; x <= right; ++x) put(x, top), put(x, bottom);
    for (int y = top; y <= bottom; ++y) put(left, y), put(right, y);
  }

  void write(const std::filesystem::path& file) const { data::write_png(file, pixels_.data(), height_, width_, 3, 8, 6); }

 private:
  int tile_h_, tile_w_, zoom_, width_, height_;
  std::vector<uint8_t> pixels_;
};

}  // namespace

void write_preview(const WorldOptions& options, const std::string& split_name, int count,
                   const std::filesystem::path& file, int zoom) {
  MUST_CHECK(count >= 1, "--preview needs at least 1 sample, got ", count);
  auto split = std::find_if(options.splits.begin(), options.splits.end(),
                            [&](const SplitSpec& s) { return s.name == split_name; });
  MUST_CHECK(split != options.splits.end(), "no split named '", split_name, "' to preview");
  Sheet sheet(count, options.height, options.width, zoom);
  for (int row = 0; row < count; ++row) {
    const WorldSample sample = render_sample(options, *split, row);
    const RenderedView& view = sample.view;
    const float far = *std::max_element(view.depth.begin(), view.depth.end());
    auto image = [&](size_t i) { return Rgb{view.rgb[3 * i], view.rgb[3 * i + 1], view.rgb[3 * i + 2]}; };
    sheet.tile(row, 0, image);
    sheet.tile(row, 1, [&](size_t i) { return class_colour(view.class_map[i]); });
    sheet.tile(row, 2, [&](size_t i) {
      const auto near_is_bright = uint8_t(255.0 * (1.0 - std::sqrt(view.depth[i] / far)));
      return Rgb{near_is_bright, near_is_bright, near_is_bright};
    });
    sheet.tile(row, 3, [&](size_t i) {
      auto channel = [&](int c) { return uint8_t(std::lround((view.normals[3 * i + c] + 1.0) * 127.5)); };
      return Rgb{channel(0), channel(1), channel(2)};
    });
    sheet.tile(row, 4, image);
    for (const auto& box : view.boxes) {
      sheet.outline(row, 4, box.x0, box.y0, box.x1, box.y1, class_colour(kFirstObjectClass + box.class_index));
    }
  }
  sheet.write(file);
}

}  // namespace must::world
