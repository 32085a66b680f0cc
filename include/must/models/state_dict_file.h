// Reading and writing named tensors ("state dicts") in the formats users have.
//
// PyTorch `torch.save(model.state_dict(), f)` files (.pth/.pt, PyTorch >= 1.6): a ZIP archive, entries stored
// uncompressed:
//   <archive>/data.pkl      pickle (protocol 2) of an OrderedDict name -> tensor. Each tensor is
//                           torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
//                           requires_grad, backward_hooks[, metadata]); `storage` is a persistent id
//                           ('storage', torch.<Type>Storage, key, location, numel).
//   <archive>/data/<key>    the storage's raw little-endian bytes
//   <archive>/version, byteorder, ...  (ignored)
// LibTorch 1.13's own unpickler turns the OrderedDict into None ("Expected GenericDict but got None"), so this
// file has its own small pickle reader for exactly this subset. A dict holding the state dict under "model",
// "state_dict" or "module" (detectron2, mmdetection and training-loop checkpoints) is unwrapped.
//
// safetensors (.safetensors): u64 little-endian N, then N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}
// then the tensors' bytes, offsets relative to the end of the header. Written by write_safetensors; our tools'
// weight files round-trip exactly.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace must::models {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;  // in file / registration order

// Reads a .pth/.pt (torch.save zip) or .safetensors file, told apart by content. Throws must::Error naming the
// file (and the entry or opcode) when it is not one of those, is truncated, or holds something else than
// named tensors (e.g. a whole pickled model).
StateDict read_state_dict(const std::filesystem::path& path);
// The same from bytes already read (`file` names them in errors); a safetensors file's __metadata__ goes to
// `metadata` when given.
StateDict read_state_dict_bytes(const std::string& bytes, const std::string& file,
                                std::map<std::string, std::string>* metadata = nullptr);

// Writes `tensors` (CPU copies) as safetensors, atomically.
void write_safetensors(const std::filesystem::path& path, const StateDict& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Parameters then buffers of `module`, with their dotted names.
StateDict module_state_dict(const torch::nn::Module& module);

}  // namespace must::models
