// Image files <-> pixel buffers. Decoding goes through OpenCV's codecs; PNG encoding is our own (zlib), for
// speed on small images. Channels are always in RGB(A) order here; OpenCV's BGR order stays inside image_io.cpp. 8- and 16-bit depths are kept as stored (16-bit depth and normal maps,
// 8-bit class maps are read back bit-exact).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace must::data {

struct ImageBuffer {
  int height = 0;
  int width = 0;
  int channels = 0;   // 1 (gray / index), 3 (RGB) or 4 (RGBA)
  int bit_depth = 8;  // 8 or 16
  std::vector<uint8_t> bytes;  // row-major, interleaved channels; 16-bit samples in native byte order

  const uint8_t* u8() const { return bytes.data(); }
  const uint16_t* u16() const { return reinterpret_cast<const uint16_t*>(bytes.data()); }
  size_t num_values() const { return size_t(height) * width * channels; }
};

// Encodes a PNG in memory. `pixels` holds height*width*channels samples of `bit_depth` bits, RGB order.
// compression: zlib level 0-9 (1 is the fast default used for bulk writing).
std::string encode_png(const void* pixels, int height, int width, int channels, int bit_depth, int compression = 1);

// Writes a PNG (plainly, for bulk outputs; use encode_png + atomic_write_file for a file that must never be
// seen half-written). Throws must::Error naming the file.
void write_png(const std::filesystem::path& path, const void* pixels, int height, int width, int channels,
               int bit_depth, int compression = 1);

// Reads PNG/JPEG/... keeping the stored bit depth and channel count. (OpenCV expands palette PNGs to RGB: readers
// of indexed class maps, such as VOC's, must not use this.)
// Throws must::Error naming the file when it is missing or does not decode.
ImageBuffer read_image(const std::filesystem::path& path);

}  // namespace must::data
