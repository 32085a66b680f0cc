#include "must/core/memory.h"

#include <malloc.h>

namespace must {

void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_MAX, 0);              // no mmap()-backed blocks: large tensors come from the heap too
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // and freed heap stays mapped (up to 1 GiB at the top)
  mallopt(M_TOP_PAD, 64 << 20);        // grow the heap in 64 MiB steps
}

}  // namespace must
