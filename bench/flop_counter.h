// Counts the floating-point operations of convolutions and matrix products run while it is alive, through
// ATen's RecordFunction callbacks (so any model built from LibTorch ops is counted, without touching it).
// FLOPs = 2 x multiply-accumulates; other ops (norms, activations, resizes) are not counted, as is usual.
#pragma once

#include <cstdint>
#include <memory>

namespace must::bench {

class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  int64_t flops() const;

 private:
  uint64_t handle_;
};

}  // namespace must::bench
