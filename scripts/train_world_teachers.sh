#!/usr/bin/env bash
# The five world teachers, one after the other, on the demo world (written first if missing), then their validation
# headline metrics (OUT_DIR/teachers/report.md) and training times.
# Usage: scripts/train_world_teachers.sh [OUT_DIR (default out)] [extra must_train_teacher flags]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" > /dev/null
out="${1:-$root/out}"
shift || true
bin="${MUST_BUILD_DIR:-$root/build}/bin"
if [[ ! -f "$out/world/dataset.json" ]]; then
  "$bin/must_make_world" --config "$root/configs/world/world.yaml" --output-dir "$out/world" 2>/dev/null
fi
runs=()
summary=""
total=0
for task in classification detection segmentation depth normals; do
  rm -rf "$out/teachers/$task"
  mkdir -p "$out/teachers"
  start=$(date +%s)
  "$bin/must_train_teacher" --config "$root/configs/world/teachers/$task.yaml" --output-dir "$out/teachers/$task" \
    --set data.train.root="$out/world" --set data.eval.root="$out/world" "$@" 2> "$out/teachers/$task.log" ||
    { tail -5 "$out/teachers/$task.log"; exit 1; }
  seconds=$(( $(date +%s) - start ))
  total=$(( total + seconds ))
  summary+="$task teacher: $seconds s"$'\n'
  runs+=("$out/teachers/$task")
done
"$bin/must_eval" report --column "teacher=$(IFS=,; echo "${runs[*]}")" --output "$out/teachers/report.md" \
  2> "$out/teachers/report.log" || { tail -5 "$out/teachers/report.log"; exit 1; }
sed -n '/^|/p' "$out/teachers/report.md"
printf '%s' "$summary"
echo "all five teachers: $total s of training and evaluation"
