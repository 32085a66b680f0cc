#!/usr/bin/env bash
# Set-up if needed, build, run every test: scripts/test.sh [ctest arguments...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root/build"
ctest --output-on-failure -j "${MUST_TEST_JOBS:-2}" "$@"
