#!/usr/bin/env bash
# The world's learnability study (docs/experiments/world.md): for each world variant, the five teachers of
# configs/world/teachers/ trained on it and scored on its validation split, with their training time, and the plain
# PyTorch peer of the classification teacher (bench/peers/peer_world_classification.py) on the same images.
# Usage: scripts/world_study.sh OUT_DIR VARIANT.yaml [VARIANT.yaml ...] [-- extra must_train_teacher flags]
#   A variant is a must_make_world config (configs/world/study/ has the ones in the study). Each is written to
#   OUT_DIR/<variant>/world; its teachers go to OUT_DIR/<variant>/teachers/<task>.
#   TASKS="classification depth" trains only those teachers; PEER=0 skips the peer; PYTHON names the interpreter
#   with torch (default /usr/bin/python3). Rows go to stdout and to OUT_DIR/study.tsv (variant, task, metric,
#   value, seconds, flags), appended, so runs with other flags add rows to the same table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 2 ]] || { sed -n '2,11p' "$0"; exit 2; }
out="$1"
shift
variants=()
while [[ $# -gt 0 && $1 != -- ]]; do variants+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
flags=("$@")
bin="${MUST_BUILD_DIR:-$root/build}/bin"
python="${PYTHON:-/usr/bin/python3}"
read -r -a tasks <<< "${TASKS:-classification detection segmentation depth normals}"
mkdir -p "$out"
table="$out/study.tsv"
[[ -f $table ]] || printf 'variant\ttask\tmetric\tvalue\tseconds\tflags\n' > "$table"

# The study's metric of a teacher's final evaluation, as "name value": the one the demo's teacher targets name
# (top-1, AP50, mIoU, AbsRel, mean angle), so detection reads AP50 where the task table's headline is AP.
headline() {
  "$python" - "$1" <<'EOF'
import json, sys
metrics = json.load(open(sys.argv[1] + "/metrics.json"))
for suffix in ("top1", "detection/AP50", "mIoU", "AbsRel", "mean_angle"):
    found = [k for k in metrics if k.endswith("/" + suffix)]
    if found:
        print(suffix.split("/")[-1], round(metrics[found[0]], 4))
        break
EOF
}
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" | tee -a "$table"; }

for variant_config in "${variants[@]}"; do
  variant="$(basename "$variant_config" .yaml)"
  dir="$out/$variant"
  if [[ ! -f "$dir/world/dataset.json" ]]; then
    "$bin/must_make_world" --config "$variant_config" --output-dir "$dir/world" > "$dir.world.log" 2>&1 ||
      { tail -3 "$dir.world.log"; exit 1; }
  fi
  for task in "${tasks[@]}"; do
    run="$dir/teachers/$task"
    rm -rf "$run"
    mkdir -p "$dir/teachers"
    start=$(date +%s)
    "$bin/must_train_teacher" --config "$root/configs/world/teachers/$task.yaml" --output-dir "$run" \
      --set data.train.root="$dir/world" --set data.eval.root="$dir/world" "${flags[@]}" > "$run.log" 2>&1 ||
      { tail -3 "$run.log"; exit 1; }
    read -r metric value < <(headline "$run")
    row "$variant" "$task" "$metric" "$value" $(( $(date +%s) - start )) "${flags[*]:-}"
  done
  if [[ ${PEER:-1} == 1 && " ${tasks[*]} " == *" classification "* ]]; then
    # The peer runs the teacher's schedule: its epochs come from the teacher's resolved config.
    epochs=$(sed -n '/^train:/,/^[a-z]/ s/^  epochs: *\([0-9]*\).*/\1/p' "$dir/teachers/classification/config.yaml")
    start=$(date +%s)
    "$python" "$root/bench/peers/peer_world_classification.py" --train "$dir/world/teacher_classification" \
      --val "$dir/world/val" --epochs "${epochs:-8}" > "$dir/peer_classification.log" 2>&1 ||
      { tail -3 "$dir/peer_classification.log"; exit 1; }
    row "$variant" "classification (PyTorch peer)" top1 "$(sed -n 's/^peer top1 \([0-9.]*\).*/\1/p' \
      "$dir/peer_classification.log")" $(( $(date +%s) - start )) "epochs ${epochs:-8}"
  fi
done
