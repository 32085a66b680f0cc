// Batches copied to the device ahead of the step that uses them. On CUDA the copies go on a stream of their own, so
// that (from pinned memory: the loader pins batches for a CUDA run) they run under the kernels already queued on
// the compute stream; ready() makes the calling thread's current stream wait for them on the GPU (an event, not a
// host synchronisation) and tells the caching allocator that their memory, allocated on the copy stream, is in use
// on that stream (record_stream), so it is not handed out again before the step is done with it. On the CPU the
// copies are plain ones.
//
// The stream and event calls are c10's device-generic ones (VirtualGuardImpl, c10::Event), so this builds with a
// CPU-only LibTorch; the CUDA path runs where LibTorch has CUDA (tests/unit/device/test_cuda.cpp).
#pragma once

#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <torch/types.h>

#include <optional>

#include "must/structures/image_list.h"
#include "must/structures/targets.h"

namespace must::structures {

class DeviceTransfer {
 public:
  // A batch whose copies are queued.
  struct InFlight {
    ImageList images;  // on the device
    Targets targets;
    std::optional<c10::Event> copied;  // CUDA: recorded on the copy stream after the copies
  };

  explicit DeviceTransfer(torch::Device device) : device_(device) {}

  // Whether start() returns before the copies are done (CUDA), so that a batch is worth staging ahead.
  bool asynchronous() const { return device_.is_cuda(); }
  // Queues the copies of `images` and `targets` to the device and returns without waiting for them.
  InFlight start(const ImageList& images, const Targets& targets);
  // The calling thread's current stream waits for `batch`'s copies, and may then use its tensors.
  void ready(InFlight& batch) const;

 private:
  torch::Device device_;
  std::optional<c10::Stream> stream_;  // CUDA: the copy stream, from the device's pool on first use
};

}  // namespace must::structures
