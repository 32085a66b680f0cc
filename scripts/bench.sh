#!/usr/bin/env bash
# Benchmarks that print their figures (never timed tests): scripts/bench.sh [world ...]
#   world   must_make_world on configs/world/world.yaml (20,500 images of 64x64, all labels), into a fresh folder
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" > /dev/null
bin="$root/build/bin"
threads="${THREADS:-$(nproc)}"
work="$(mktemp -d "${TMPDIR:-/tmp}/must-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

bench_world() {
  for run in 1 2 3; do
    "$bin/must_make_world" --config "$root/configs/world/world.yaml" --threads "$threads" \
      --output-dir "$work/world$run" 2>/dev/null
    rate=$(sed -n 's/.*"world\/images_per_s":\([0-9.]*\).*/\1/p' "$work/world$run/metrics.jsonl")
    printf 'world (run %d, %d threads): %.0f images/s\n' "$run" "$threads" "$rate"
    rm -rf "$work/world$run"
  done
}

for what in "${@:-world}"; do
  case "$what" in
    world) bench_world ;;
    *) echo "bench.sh: unknown benchmark '$what' (known: world)" >&2; exit 2 ;;
  esac
done
