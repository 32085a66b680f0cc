#!/usr/bin/env bash
# The Fashion-MNIST teacher on real data no one here wrote (Debian's dataset-fashion-mnist): trains
# configs/world/teachers/fashion_mnist.yaml and prints its test score (OUTPUT_DIR/report.md) and the wall time.
# Usage: scripts/fashion_mnist.sh [OUTPUT_DIR] [extra must_train_teacher flags]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" > /dev/null
out="${1:-$root/out/teachers/fashion_mnist}"
shift || true
rm -rf "$out"
start=$(date +%s)
"${MUST_BUILD_DIR:-$root/build}/bin/must_train_teacher" --config "$root/configs/world/teachers/fashion_mnist.yaml" --output-dir "$out" "$@"
seconds=$(( $(date +%s) - start ))
"${MUST_BUILD_DIR:-$root/build}/bin/must_eval" report --column "teacher=$out" --output "$out/report.md" 2> /dev/null
sed -n '/^|/p' "$out/report.md"
echo "fashion-mnist teacher: ${seconds} s (training and the final evaluation, $(nproc) cores)"
