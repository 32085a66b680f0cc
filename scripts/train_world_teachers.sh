#!/usr/bin/env bash
# The five world teachers, one after the other, on the demo world (written first if missing), then one line per
# teacher: its validation headline metric and its training time.
# Usage: scripts/train_world_teachers.sh [OUT_DIR (default out)] [extra must_train_teacher flags]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" > /dev/null
out="${1:-$root/out}"
shift || true
bin="$root/build/bin"
if [[ ! -f "$out/world/dataset.json" ]]; then
  "$bin/must_make_world" --config "$root/configs/world/world.yaml" --output-dir "$out/world" 2>/dev/null
fi
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
  summary+=$(/usr/bin/python3 - "$out/teachers/$task/metrics.json" "$task" "$seconds" <<'PY'
import json, sys
metrics, task, seconds = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
keys = {"classification": ["top1"], "detection": ["AP50", "AP"], "segmentation": ["mIoU"],
        "depth": ["AbsRel", "delta1"], "normals": ["mean_angle", "within_11.25"]}[task]
print(f"{task:15s} " + "  ".join(f"{k} {metrics[f'world_val/{task}/{k}']:.4g}" for k in keys) + f"  ({seconds} s)")
PY
)$'\n'
done
printf '%s' "$summary"
echo "all five teachers: $total s of training and evaluation"
