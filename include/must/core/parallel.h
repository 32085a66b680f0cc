// A minimal parallel loop for CPU work that does not go through LibTorch (rendering, encoding, file I/O).
#pragma once

#include <cstdint>
#include <functional>

namespace must {

// Calls fn(i) for i in [0, count) on `threads` threads, handing out indices in order. The first exception
// thrown by fn stops the hand-out and is rethrown here once every thread has finished.
void parallel_for(int64_t count, int threads, const std::function<void(int64_t)>& fn);

}  // namespace must
