#!/usr/bin/env bash
# Set-up if needed, build, run every test: scripts/test.sh [ctest arguments...]
# The build is MUST_BUILD_DIR (default build/), as scripts/setup.sh makes or finds it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MUST_BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh"

# A build configured with a folder of header-only libraries (MUST_THIRD_PARTY) took none of them from the system's
# include path: the compiler's dependency records name no /usr/include/{spdlog,fmt,nlohmann,CLI} header.
if grep -q '^MUST_THIRD_PARTY:PATH=.' "$build/CMakeCache.txt" && [[ -f $build/build.ninja ]]; then
  leaked=$(ninja -C "$build" -t deps | grep -E '^ +/usr/include/(spdlog|fmt|nlohmann|CLI)/' | sort -u | head -3 || true)
  [[ -z $leaked ]] || { echo "test.sh: built with MUST_THIRD_PARTY, yet the system's headers were used:"$'\n'"$leaked" >&2; exit 1; }
  echo "test.sh: header-only libraries from $(sed -n 's/^MUST_THIRD_PARTY:PATH=//p' "$build/CMakeCache.txt"), none from the system"
  # The other path, the system's (Debian's packages, a conda environment's), configures too.
  if [[ -d /usr/include/spdlog ]]; then
    cmake -S "$root" -B "$build/system-deps-check" -DMUST_USE_CCACHE=OFF > "$build/system-deps-check.log" 2>&1 ||
      { tail -5 "$build/system-deps-check.log"; echo "test.sh: configuring with the system's libraries failed" >&2; exit 1; }
    echo "test.sh: configuring with the system's header-only libraries works too"
  fi
fi

cd "$build"
ctest --output-on-failure -j "${MUST_TEST_JOBS:-2}" "$@"
