// How long OpenMP's idle threads spin before they sleep: process-wide, chosen at start-up.
#pragma once

#include <string>

namespace must {

// The setting a process should run with: GOMP_SPINCOUNT=1000 unless the user chose a spin policy (GOMP_SPINCOUNT
// or OMP_WAIT_POLICY set, kept as they are); nullptr: nothing to change.
//
// Why: between ATen's parallel regions libgomp's idle threads spin ~300,000 times (its default) before they
// sleep, and a spinning thread holds its core. The loader's threads run at idle priority (data/loader.h), so
// they get exactly the core time the training step leaves idle — which is none while the OpenMP threads spin.
// With short spins the step's serial stretches (dispatch, autograd bookkeeping) hand their idle core to the
// loader. Measured on the trainer benchmark (scripts/bench.sh trainer, 2 cores): loop/bare step 0.86 with idle-
// priority loaders and the default spin, 0.95 with both; the bare step alone does not slow down.
const char* openmp_spin_setting(const char* gomp_spincount, const char* omp_wait_policy);

// libgomp reads its environment once, when it loads: a process whose environment lacks the setting above sets
// it and re-executes itself (same pid, arguments and otherwise the same environment), first thing in main().
// If the re-execution fails, the process goes on with the default spin. /proc/self/exe is the running binary: a
// tool started through ld.so, valgrind or an emulator would re-execute that instead — set GOMP_SPINCOUNT there.
void reexec_with_short_openmp_spin(char** argv);

// The spin setting this process runs with, for its log: "GOMP_SPINCOUNT=1000", "OMP_WAIT_POLICY=passive", both,
// or "libgomp's default spin".
std::string openmp_spin_description();

}  // namespace must
