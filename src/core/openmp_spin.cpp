#include "must/core/openmp_spin.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace must {

const char* openmp_spin_setting(const char* gomp_spincount, const char* omp_wait_policy) {
  if (gomp_spincount || omp_wait_policy) return nullptr;
  return "1000";
}

void reexec_with_short_openmp_spin(char** argv) {
  const char* setting = openmp_spin_setting(std::getenv("GOMP_SPINCOUNT"), std::getenv("OMP_WAIT_POLICY"));
  if (!setting || !argv || !argv[0]) return;
  if (setenv("GOMP_SPINCOUNT", setting, 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: carry on as we are, and do not claim the setting
  unsetenv("GOMP_SPINCOUNT");
}

std::string openmp_spin_description() {
  std::string out;
  for (const char* name : {"GOMP_SPINCOUNT", "OMP_WAIT_POLICY"}) {
    if (const char* value = std::getenv(name)) out += (out.empty() ? "" : " ") + std::string(name) + "=" + value;
  }
  return out.empty() ? "libgomp's default spin" : out;
}

}  // namespace must
