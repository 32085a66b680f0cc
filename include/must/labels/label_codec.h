// A task's label as the bytes of one pseudo-label store member (docs/formats.md), and back. The format follows the
// task's TargetKind, and the member is named K.<TaskSpec::store_suffix>:
//   class vector   K.cls.npy     float16 [C] probabilities (a top-k label: the others are 0)
//   boxes          K.det.json    {"boxes": [[x1, y1, x2, y2], ...], "labels": [...], "scores": [...]}: pixel-edge
//                                coordinates of the image as read, 0-based classes
//   class map      K.seg.png     8-bit gray, one class index per pixel, 255 = ignore
//   float map      K.depth.npy   float16 [H, W], metres, 0 = invalid
//   unit vectors   K.normal.npy  float16 [H, W, 3], (0, 0, 0) = invalid. Not the 16-bit RGB PNG first planned:
//                                Pillow (9.x, Debian 12) reads 16-bit RGB PNGs as 8-bit, and a store must
//                                read back with tarfile + numpy + PIL alone. float16 keeps ~0.03 degrees.
// Decoded labels have the data::Sample layouts (data/dataset.h), so transforms and collate apply unchanged.
// Python reads each with numpy.load / json / PIL.
#pragma once

#include <string>
#include <string_view>

#include "must/core/task.h"
#include "must/data/dataset.h"

namespace must::labels {

// The member name of `task`'s label of key K: "K.<suffix>".
std::string member_name(const std::string& key, Task task);

// Encodes the sample's label of `task` (labels[task], or instances for detection). Throws must::Error when the
// sample has none or it does not fit the format (a class index above 254 in a class map).
std::string encode_label(Task task, const data::Sample& sample);

// Decodes a member into `sample` (labels[task], or instances). Throws must::Error naming `source` when the bytes
// do not decode.
void decode_label(Task task, const std::string& bytes, const std::string& source, data::Sample& sample);

}  // namespace must::labels
