#include "must/data/decode.h"

#include <png.h>
#include <turbojpeg.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <torch/torch.h>

#include <csetjmp>
#include <cstring>
#include <memory>
#include <vector>

#include "must/core/fs.h"

namespace must::data {
namespace {

bool is_jpeg(const std::string& bytes) {
  return bytes.size() > 3 && uint8_t(bytes[0]) == 0xFF && uint8_t(bytes[1]) == 0xD8 && uint8_t(bytes[2]) == 0xFF;
}

bool is_png(const std::string& bytes) {
  static const char signature[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  return bytes.size() > 24 && std::memcmp(bytes.data(), signature, 8) == 0;
}

}  // namespace

std::string_view encoded_image_format(const std::string& bytes) {
  return is_jpeg(bytes) ? "jpg" : is_png(bytes) ? "png" : "";
}

namespace {

uint32_t big_endian_u32(const std::string& bytes, size_t at) {
  return uint32_t(uint8_t(bytes[at])) << 24 | uint32_t(uint8_t(bytes[at + 1])) << 16 |
         uint32_t(uint8_t(bytes[at + 2])) << 8 | uint32_t(uint8_t(bytes[at + 3]));
}

// One libjpeg-turbo decompressor per thread: creating one costs more than decoding a small image.
tjhandle thread_decompressor() {
  thread_local std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  MUST_CHECK(handle, "libjpeg-turbo: cannot create a decompressor");
  return handle.get();
}

torch::Tensor decode_jpeg(const std::string& bytes, const std::string& source, int denominator) {
  tjhandle tj = thread_decompressor();
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(bytes.size()), &width, &height, &subsampling,
                          &colorspace) != 0) {
    throw DecodeError(source, std::string("not a decodable JPEG (") + tjGetErrorStr2(tj) + ")");
  }
  const int out_width = (width + denominator - 1) / denominator, out_height = (height + denominator - 1) / denominator;
  torch::Tensor out = torch::empty({out_height, out_width, 3}, torch::kUInt8);
  // The accurate integer DCT, as PIL's default decode (the fast DCT differs by ~2 levels on average).
  if (tjDecompress2(tj, data, static_cast<unsigned long>(bytes.size()), out.data_ptr<uint8_t>(), out_width, 0,
                    out_height, TJPF_RGB, 0) != 0 &&
      tjGetErrorCode(tj) == TJERR_FATAL) {
    throw DecodeError(source, std::string("JPEG does not decode (") + tjGetErrorStr2(tj) + ")");
  }
  return out;
}

torch::Tensor decode_with_opencv(const std::string& bytes, const std::string& source) {
  const cv::Mat encoded(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat image;
  try {
    image = cv::imdecode(encoded, cv::IMREAD_COLOR);  // 8-bit BGR whatever the file
  } catch (const cv::Exception& e) {
    throw DecodeError(source, std::string("image does not decode (") + e.what() + ")");
  }
  if (image.empty()) throw DecodeError(source, "image does not decode (truncated, corrupt or not an image)");
  torch::Tensor out = torch::empty({image.rows, image.cols, 3}, torch::kUInt8);
  cv::Mat rgb(image.rows, image.cols, CV_8UC3, out.data_ptr<uint8_t>());
  cv::cvtColor(image, rgb, cv::COLOR_BGR2RGB);
  return out;
}

}  // namespace

std::array<int64_t, 2> encoded_image_size(const std::string& bytes, const std::string& source) {
  if (is_jpeg(bytes)) {
    int width = 0, height = 0, subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(thread_decompressor(), reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<unsigned long>(bytes.size()), &width, &height, &subsampling, &colorspace) != 0) {
      throw DecodeError(source, "not a decodable JPEG");
    }
    return {height, width};
  }
  if (is_png(bytes)) return {int64_t(big_endian_u32(bytes, 20)), int64_t(big_endian_u32(bytes, 16))};  // IHDR
  const torch::Tensor image = decode_with_opencv(bytes, source);
  return {image.size(0), image.size(1)};
}

torch::Tensor decode_rgb(const std::string& bytes, const std::string& source, int scale_denominator) {
  MUST_CHECK(scale_denominator == 1 || scale_denominator == 2 || scale_denominator == 4 || scale_denominator == 8,
             "decode scale must be 1/1, 1/2, 1/4 or 1/8, got 1/", scale_denominator);
  if (is_jpeg(bytes)) return decode_jpeg(bytes, source, scale_denominator);
  return decode_with_opencv(bytes, source);
}

namespace {

struct PngReadState {
  const std::string* bytes;
  size_t offset = 8;
};

void png_read_from_string(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngReadState*>(png_get_io_ptr(png));
  if (state->offset + length > state->bytes->size()) png_error(png, "file ends early (truncated)");
  std::memcpy(out, state->bytes->data() + state->offset, length);
  state->offset += length;
}

// What decode_png fills. It is owned by the caller, so that nothing with a destructor lives in decode_png's
// frame between its setjmp and the last libpng call (a longjmp would skip that destructor).
struct PngPixels {
  int64_t height = 0, width = 0, channels = 0;
  bool wide = false;           // 16-bit samples, in native byte order
  std::vector<uint8_t> bytes;  // row-major, interleaved channels
  std::vector<png_bytep> rows;
  std::string error;           // libpng's message when decoding failed
};

// Decodes `bytes` (a PNG, signature already checked) into `out`; false with out.error set when libpng fails.
bool decode_png(const std::string& bytes, PngPixels& out) {
  PngReadState state{&bytes};
  png_structp png = png_create_read_struct(
      PNG_LIBPNG_VER_STRING, &out.error,
      [](png_structp p, png_const_charp text) {
        *static_cast<std::string*>(png_get_error_ptr(p)) = text;
        longjmp(png_jmpbuf(p), 1);
      },
      [](png_structp, png_const_charp) {});
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    if (png) png_destroy_read_struct(&png, nullptr, nullptr);
    out.error = "libpng cannot allocate a reader";
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &state, png_read_from_string);
  png_set_sig_bytes(png, 8);
  png_read_info(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (bit_depth < 8) png_set_packing(png);  // 1-, 2-, 4-bit indices or gray to one byte each
  if (bit_depth == 16) png_set_swap(png);   // native byte order
  png_read_update_info(png, info);
  out.height = png_get_image_height(png, info);
  out.width = png_get_image_width(png, info);
  out.channels = png_get_channels(png, info);
  out.wide = bit_depth == 16;
  const size_t row_bytes = size_t(out.width * out.channels * (out.wide ? 2 : 1));
  out.bytes.resize(row_bytes * size_t(out.height));
  out.rows.resize(size_t(out.height));
  for (size_t y = 0; y < out.rows.size(); ++y) out.rows[y] = out.bytes.data() + y * row_bytes;
  png_read_image(png, out.rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

}  // namespace

torch::Tensor read_png_samples(const std::filesystem::path& path) { return decode_png_samples(read_file(path), path.string()); }

torch::Tensor decode_png_samples(const std::string& bytes, const std::string& source) {
  if (!is_png(bytes)) MUST_THROW(Error, source, ": not a PNG file");
  PngPixels pixels;
  if (!decode_png(bytes, pixels)) MUST_THROW(Error, source, ": PNG does not decode (", pixels.error, ")");
  const torch::Tensor raw = torch::from_blob(pixels.bytes.data(), {pixels.height, pixels.width, pixels.channels},
                                             pixels.wide ? torch::kInt16 : torch::kUInt8);
  // 16-bit samples are unsigned; int16 storage would wrap above 32767.
  const torch::Tensor out = pixels.wide ? raw.to(torch::kInt32).bitwise_and(0xFFFF) : raw.clone();
  return pixels.channels == 1 ? out.squeeze(2) : out;
}

}  // namespace must::data
