// The formats `must_eval score --predictions-format NAME` reads. `must` is our own (prediction_files.h); the others
// are the benchmarks' official result formats, read as their own evaluation scripts read them:
//
//   must                 a --save-predictions folder, or a COCO results JSON file (pycocotools' loadRes input;
//                        image_id a number or the image's file name, prediction_files.h). The default for a
//                        folder holding predictions.json and for a file.
//   voc-det              PASCAL VOC devkit detection results: a folder of <comp>_det_<set>_<class>.txt files, one
//                        per class (comp4_det_test_aeroplane.txt), each line "<image id> <confidence> <xmin> <ymin>
//                        <xmax> <ymax>": the image's file stem and the devkit's 1-based inclusive pixel corners,
//                        as in the annotation XML. A class without a file has no detections.
//   class-png            one PNG per image (8- or 16-bit gray or palette indices) holding the dataset's class
//                        indices, 255 = no class: the VOC devkit's segmentation results, Cityscapes trainIds,
//                        ADE20K's 0..149 (mmsegmentation's reduce_zero_label).
//   cityscapes-labelids  Cityscapes' official results: labelIds 0..33; a labelId that is not one of the 19
//                        evaluated classes is no class.
//   ade20k               the SceneParsing submission format: classes 1..150, 0 = no class.
//
// A folder of PNGs is searched recursively for each image's prediction: <image stem>.png, or for Cityscapes
// <city>_<seq>_<frame>*.png (cityscapesScripts' rule). Every image of the dataset needs its prediction (the
// official scripts' rule too); a PNG that belongs to no image is not read. "No class" is a miss of the true class
// and a false positive of none (ConfusionMatrix::kNoClass). A folder of PNGs could be read in more than one of these
// spaces, so without predictions.json it needs the flag rather than a guess, and a value outside the format's space
// is an error naming the space and the flags of the dataset's other formats. CIFAR-100, NYU Depth v2 and DIODE
// have no official result format: their predictions are scored from our folder.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "must/data/dataset.h"
#include "must/eval/prediction_files.h"

namespace must::eval {

// The --predictions-format names, each with what it reads, for help texts: "must: ...".
std::vector<std::string> prediction_format_help();
std::vector<std::string> prediction_format_names();

// `path` read in `format` ("" = must where the path is a file or a folder holding predictions.json, else an error
// asking for the flag) for scoring against `dataset`, which the reader named `dataset_format`
// (DatasetOptions::format) opened: it decides which official formats apply. Throws must::Error naming the file,
// line or value at fault; ConfigError for a format that does not fit the dataset.
std::unique_ptr<PredictionSource> open_predictions(const std::filesystem::path& path, const std::string& format,
                                                   const data::Dataset& dataset, const std::string& dataset_format);

}  // namespace must::eval
