#include "must/models/script_teacher.h"

#include <dlfcn.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <sstream>

#include "must/core/check.h"

namespace must::models {
namespace {

namespace F = torch::nn::functional;

torch::Tensor resized(const torch::Tensor& map, int64_t height, int64_t width) {  // [C, h, w] -> [C, height, width]
  if (map.size(-2) == height && map.size(-1) == width) return map;
  return F::interpolate(map.unsqueeze(0), F::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{height, width})
                                              .mode(torch::kBilinear)
                                              .align_corners(false))[0];
}

torch::Tensor channel_vector(const std::array<float, 3>& values, const torch::Tensor& like) {
  return torch::tensor({values[0], values[1], values[2]}, like.options()).view({1, 3, 1, 1});
}

// The first line of a TorchScript error (the rest is the compiled code's call stack), and what to do about an
// operator library that is not loaded.
std::string first_line(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  std::istringstream lines(c10_error ? c10_error->what_without_backtrace() : error.what());
  std::string line;
  while (std::getline(lines, line) && line.find_first_not_of(" \t") == std::string::npos) {
  }
  if (line.find("Unknown builtin op: torchvision::") != std::string::npos) {
    line +=
        " Load torchvision's operators: inference.libraries: [<torchvision's _C.so: python3 -c \"import "
        "torchvision.extension as e; print(e._get_extension_path('_C'))\">] (or a C++ build's libtorchvision.so)";
  }
  return line;
}

}  // namespace

void load_operator_library(const std::filesystem::path& library) {
  MUST_CHECK(std::filesystem::exists(library), "operator library ", library.string(), " does not exist");
  // As torch.ops.load_library: global symbols, so that the library's TORCH_LIBRARY registrations run and stay.
  if (!dlopen(library.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
    const char* why = dlerror();
    MUST_THROW(Error, library.string(), ": does not load (", why ? why : "unknown reason",
               "); it must be built against this LibTorch's version");
  }
}

ScriptTeacher::ScriptTeacher(ScriptTeacherOptions options) : options_(std::move(options)) {
  MUST_CHECK(std::filesystem::exists(options_.file), "TorchScript teacher ", options_.file.string(), " does not exist");
  try {
    module_ = std::make_unique<torch::jit::Module>(torch::jit::load(options_.file.string()));
  } catch (const std::exception& e) {  // c10::Error, or the compiler's torch::jit::ErrorReport
    MUST_THROW(Error, options_.file.string(), ": torch.jit.load fails: ", first_line(e));
  }
  module_->eval();
}

c10::IValue ScriptTeacher::run_module(std::vector<c10::IValue> inputs) {
  try {
    return module_->forward(std::move(inputs));
  } catch (const std::exception& e) {
    MUST_THROW(Error, options_.file.string(), ": the module's forward fails: ", first_line(e));
  }
}

ScriptTeacher::~ScriptTeacher() = default;
ScriptTeacher::ScriptTeacher(ScriptTeacher&&) noexcept = default;
ScriptTeacher& ScriptTeacher::operator=(ScriptTeacher&&) noexcept = default;

void ScriptTeacher::to(const torch::Device& device) {
  module_->to(device);
}

torch::Tensor ScriptTeacher::module_input(const torch::Tensor& images) const {
  if (options_.mean == options_.batch_mean && options_.std == options_.batch_std) return images;
  // pixel / 255 = x * batch_std + batch_mean, then the module's (pixel / 255 - mean) / std
  const torch::Tensor std = channel_vector(options_.std, images);
  return (images * channel_vector(options_.batch_std, images) + channel_vector(options_.batch_mean, images) -
          channel_vector(options_.mean, images)) /
         std;
}

ModelOutput ScriptTeacher::forward(const torch::Tensor& images, const std::vector<std::array<int64_t, 2>>& sizes) {
  torch::NoGradGuard no_grad;
  MUST_CHECK(images.dim() == 4 && images.size(0) == int64_t(sizes.size()), "a batch of ", sizes.size(),
             " images as [N, 3, H, W], got ", images.sizes());
  const torch::Tensor input = module_input(images.to(torch::kFloat));
  if (task_spec(options_.task).target == TargetKind::kBoxes) return detections(input, sizes);
  ModelOutput output;
  output.predictions[options_.task] = tensor_output(input, sizes);
  return output;
}

namespace {

// The module's tensor: the result itself, a tuple's or list's first element, or a dict's "out".
torch::Tensor tensor_of(const c10::IValue& result, const std::filesystem::path& file) {
  if (result.isTensor()) return result.toTensor();
  if (result.isTuple() && !result.toTupleRef().elements().empty())
    return tensor_of(result.toTupleRef().elements()[0], file);
  if (result.isList() && !result.toListRef().empty()) return tensor_of(result.toListRef()[0], file);
  if (result.isGenericDict()) {
    const c10::Dict<c10::IValue, c10::IValue> dict = result.toGenericDict();
    const auto out = dict.find(c10::IValue(std::string("out")));
    if (out != dict.end()) return tensor_of(out->value(), file);
  }
  MUST_THROW(Error, file.string(), ": the module returned ", result.tagKind(),
             ", not a tensor (or a tuple, list or {\"out\": tensor} holding one)");
}

}  // namespace

torch::Tensor ScriptTeacher::tensor_output(const torch::Tensor& input,
                                           const std::vector<std::array<int64_t, 2>>& sizes) {
  const TaskSpec& spec = task_spec(options_.task);
  const auto n = int64_t(sizes.size());
  const bool own_size = options_.size[0] > 0;
  torch::Tensor batch = input;
  if (own_size) {
    std::vector<torch::Tensor> each;
    for (int64_t i = 0; i < n; ++i) {
      const auto [h, w] = sizes[size_t(i)];
      each.push_back(resized(input[i].narrow(1, 0, h).narrow(2, 0, w), options_.size[0], options_.size[1]));
    }
    batch = torch::stack(each);
  }
  torch::Tensor y = tensor_of(run_module({batch}), options_.file).to(torch::kFloat);
  const std::string file = options_.file.string();
  MUST_CHECK(y.size(0) == n, file, ": ", y.size(0), " outputs for a batch of ", n, " images");
  if (spec.target == TargetKind::kClassVector) {
    MUST_CHECK(y.dim() == 2, file, ": classification logits are [N, C], the module gave ", y.sizes());
    return y;
  }
  if (y.dim() == 3 && spec.channels == 1) y = y.unsqueeze(1);  // depth [N, h, w]
  MUST_CHECK(y.dim() == 4 && (spec.channels == 0 || y.size(1) == spec.channels), file, ": ", task_name(options_.task),
             " maps are [N, ", spec.channels == 0 ? "C" : std::to_string(spec.channels), ", h, w], the module gave ",
             y.sizes());
  if (!own_size) {  // the map covers the padded batch
    return F::interpolate(y, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{input.size(2), input.size(3)})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  }
  torch::Tensor maps = torch::zeros({n, y.size(1), input.size(2), input.size(3)}, y.options());
  for (int64_t i = 0; i < n; ++i) {
    const auto [h, w] = sizes[size_t(i)];
    maps[i].narrow(1, 0, h).narrow(2, 0, w).copy_(resized(y[i], h, w));
  }
  return maps;
}

ModelOutput ScriptTeacher::detections(const torch::Tensor& input, const std::vector<std::array<int64_t, 2>>& sizes) {
  const std::string file = options_.file.string();
  c10::List<torch::Tensor> images;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto [h, w] = sizes[i];
    const torch::Tensor image = input[int64_t(i)].narrow(1, 0, h).narrow(2, 0, w);
    images.push_back(options_.size[0] > 0 ? resized(image, options_.size[0], options_.size[1]) : image.contiguous());
  }
  c10::IValue result = run_module({images});
  if (result.isTuple()) {  // a scripted torchvision detector: (losses, detections)
    const auto& elements = result.toTupleRef().elements();
    MUST_CHECK(elements.size() == 2 && elements[1].isList(), file, ": a tuple output should be (losses, detections)");
    result = elements[1];
  }
  MUST_CHECK(result.isList() && result.toListRef().size() == sizes.size(), file,
             ": detection output is a list of one {boxes, labels, scores} per image, the module gave ",
             result.tagKind());
  ModelOutput output;
  std::vector<structures::Instances>& instances = output.instances[options_.task];
  for (size_t i = 0; i < sizes.size(); ++i) {
    const c10::IValue& entry = result.toListRef()[i];
    MUST_CHECK(entry.isGenericDict(), file, ": detections of image ", i, " are not a dict");
    const c10::Dict<c10::IValue, c10::IValue> dict = entry.toGenericDict();
    auto field = [&](const char* name) {
      const auto found = dict.find(c10::IValue(std::string(name)));
      MUST_CHECK(found != dict.end() && found->value().isTensor(), file, ": detections of image ", i, " have no '",
                 name, "' tensor");
      return found->value().toTensor().to(torch::kCPU);
    };
    structures::Instances boxes;
    boxes.boxes = field("boxes").to(torch::kFloat).reshape({-1, 4});
    boxes.labels = field("labels").to(torch::kLong) - 1;  // torchvision's background is 0
    boxes.scores = field("scores").to(torch::kFloat);
    MUST_CHECK(boxes.labels.numel() == boxes.size() && boxes.scores.numel() == boxes.size(), file, ": image ", i,
               "'s boxes, labels and scores differ in count");
    MUST_CHECK(boxes.size() == 0 || boxes.labels.min().item<int64_t>() >= 0, file, ": image ", i,
               " has a detection labelled 0, torchvision's background");
    if (options_.size[0] > 0) {  // back to the image's pixels
      const auto [h, w] = sizes[i];
      const float sx = float(w) / float(options_.size[1]), sy = float(h) / float(options_.size[0]);
      boxes.boxes = boxes.boxes * torch::tensor({sx, sy, sx, sy});
    }
    instances.push_back(std::move(boxes));
  }
  return output;
}

}  // namespace must::models
