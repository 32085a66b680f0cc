#include "must/structures/device_transfer.h"

#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>

namespace must::structures {

DeviceTransfer::InFlight DeviceTransfer::start(const ImageList& images, const Targets& targets) {
  InFlight batch;
  if (!device_.is_cuda()) {
    batch.images = images.to(device_);
    batch.targets = targets.to(device_);
    return batch;
  }
  if (!stream_) stream_ = c10::impl::VirtualGuardImpl(device_.type()).getStreamFromGlobalPool(device_);
  c10::StreamGuard on_copy_stream(*stream_);
  batch.images = images.to(device_, /*non_blocking=*/true);
  batch.targets = targets.to(device_, /*non_blocking=*/true);
  batch.copied.emplace(device_.type());
  batch.copied->record(*stream_);
  return batch;
}

void DeviceTransfer::ready(InFlight& batch) const {
  if (!batch.copied) return;
  const c10::Stream compute = c10::impl::VirtualGuardImpl(device_.type()).getStream(device_);
  batch.copied->block(compute);
  batch.images.tensors.record_stream(compute);
  batch.targets.map([&](const torch::Tensor& t) {
    t.record_stream(compute);
    return t;
  });
  batch.copied.reset();  // ready once
}

}  // namespace must::structures
