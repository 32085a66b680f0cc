#!/usr/bin/env bash
# The whole pipeline once, on the quick world, one process per stage, on one device:
#   scripts/pipeline_smoke.sh DEVICE OUT_DIR      (DEVICE: cpu, cuda, cuda:N)
# the world; the five teachers (a few steps each); must_pseudolabel (one rank) into a store it then verifies; the
# student on that store; must_eval scoring the student on every task. Not a measure of accuracy (a few steps): a
# check that every tool runs end to end on DEVICE. scripts/gpu_check.sh runs it on cuda. The build is
# MUST_BUILD_DIR (default build/). Exit status 0 when every stage succeeded; else the failing stage's log is shown.
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 DEVICE OUT_DIR" >&2; exit 2; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
device=$1
mkdir -p "$2"
out="$(cd "$2" && pwd)"
bin="${MUST_BUILD_DIR:-$root/build}/bin"
cd "$root"  # configs name other configs relative to the repository
tasks=(classification detection segmentation depth normals)
roots=(--set data.train.root="$out/world" --set data.eval.root="$out/world")
short=(--set train.epochs=0 --set train.max_iterations=6 --set train.log_period=2 --set data.loader.workers=1)

# step NAME COMMAND...: runs COMMAND with its log in OUT/NAME.log; on failure shows the log's end and stops.
step() {
  local name=$1 start
  shift
  start=$(date +%s)
  if "$@" > "$out/$name.log" 2>&1; then
    echo "pipeline_smoke: $name: ok ($(( $(date +%s) - start )) s)"
  else
    tail -15 "$out/$name.log" >&2
    echo "pipeline_smoke: $name: FAILED (log: $out/$name.log)" >&2
    exit 1
  fi
}

rm -rf "$out/world" "$out/teachers" "$out/labels" "$out/student" "$out/eval"
step world "$bin/must_make_world" --config configs/quick/world.yaml --output-dir "$out/world"
teachers=()
for task in "${tasks[@]}"; do
  step "teacher_$task" "$bin/must_train_teacher" --device "$device" --config "configs/quick/teachers/$task.yaml" \
    "${roots[@]}" "${short[@]}" --output-dir "$out/teachers/$task"
  teachers+=(--set "teachers.$task.config=configs/quick/teachers/$task.yaml"
             --set "teachers.$task.weights=$out/teachers/$task/model_final.safetensors")
done
step pseudolabel "$bin/must_pseudolabel" --device "$device" --config configs/world/pseudolabel.yaml \
  --set input.root="$out/world" "${teachers[@]}" --set store.shard_size=8 --set data.loader.batch_size=8 \
  --output-dir "$out/labels"
step verify "$bin/must_pseudolabel" --verify "$out/labels"
step student "$bin/must_train_student" --device "$device" --config configs/quick/student.yaml \
  --set sources.world_unlabeled.store="$out/labels" --set sources.teacher_depth.dataset.root="$out/world" \
  --set data.eval.root="$out/world" --output-dir "$out/student"
step eval "$bin/must_eval" --device "$device" --config configs/quick/student.yaml \
  --set sources.world_unlabeled.store="$out/labels" --set sources.teacher_depth.dataset.root="$out/world" \
  --set data.eval.root="$out/world" --weights "$out/student/model_final.safetensors" --output-dir "$out/eval"
echo "pipeline_smoke: every stage ran on $device; the student's scores: $out/eval/metrics.json"
