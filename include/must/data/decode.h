// Decoding what dataset files hold into tensors (OpenCV and the codec libraries stay in `data`: docs/architecture.md).
//
//   images      uint8 [H, W, 3] RGB (HWC, as decoded; transforms keep this layout until normalisation).
//               JPEG goes through libjpeg-turbo, which can decode at 1/2, 1/4 or 1/8 scale in the DCT (a crop that
//               is resized down anyway loses nothing visible and decodes 2-4x faster); other formats through OpenCV.
//               Gray images are replicated to 3 channels, alpha is dropped.
//   label PNGs  the stored samples as they are, without palette expansion (VOC's palette PNGs give class indices,
//               not colours): [H, W] (or [H, W, C]) uint8 for 8-bit files, int32 for 16-bit ones (LibTorch 1.13
//               has no uint16).
#pragma once

#include <torch/types.h>

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "must/core/check.h"

namespace must::data {

// An image file that exists but does not decode (truncated, corrupt, not an image). Loaders may skip these
// (and count them); every other error stops the run.
class DecodeError : public Error {
 public:
  DecodeError(std::string source, const std::string& problem) : Error(source + ": " + problem), source_(std::move(source)) {}
  const std::string& source() const { return source_; }  // the file (and record)

 private:
  std::string source_;
};

// "jpg" or "png" when the bytes carry that format's signature; "" otherwise.
std::string_view encoded_image_format(const std::string& bytes);

// {height, width} from the file header without decoding the pixels (JPEG, PNG; others are decoded).
// `source` names the file in errors.
std::array<int64_t, 2> encoded_image_size(const std::string& bytes, const std::string& source);

// Decodes to uint8 [H, W, 3] RGB. scale_denominator 1, 2, 4 or 8 asks a JPEG for 1/n of its size (rounded up);
// other formats ignore it. Throws DecodeError naming `source`.
torch::Tensor decode_rgb(const std::string& bytes, const std::string& source, int scale_denominator = 1);

// A label PNG's stored samples (see above). Throws must::Error when it is missing or does not decode: a
// broken label is a malformed annotation, which stops a run (unlike a broken image).
torch::Tensor read_png_samples(const std::filesystem::path& path);
// The same from bytes in memory; `source` names them in errors.
torch::Tensor decode_png_samples(const std::string& bytes, const std::string& source);

}  // namespace must::data
