// Cityscapes' label spaces (cityscapesScripts' labels.py): labelIds 0..33 are what gtFine_labelIds.png files and
// official results hold; the 19 evaluated classes are numbered by trainId 0..18, every other labelId is void.
#pragma once

#include <array>

namespace must::data {

inline constexpr int kCityscapesLastLabelId = 33;
// The labelId of each trainId, in trainId order (road 7, sidewalk 8, ..., bicycle 33).
inline constexpr std::array<int, 19> kCityscapesLabelIdOfTrainId = {7,  8,  11, 12, 13, 17, 19, 20, 21, 22,
                                                                    23, 24, 25, 26, 27, 28, 31, 32, 33};

}  // namespace must::data
