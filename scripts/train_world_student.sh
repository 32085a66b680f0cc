#!/usr/bin/env bash
# MuST steps two and three on the demo world, after scripts/train_world_teachers.sh: the five teachers label the
# unlabeled split (must_pseudolabel, 2 local processes; skipped when the store is finished), the student trains on
# those labels (must_train_student, 2 ranks of 1 thread), then the student against each teacher on the teacher's own
# task (validation split; OUT_DIR/student_vs_teachers.md: the difference to the teacher in parentheses), with the
# wall time of each stage.
# Usage: scripts/train_world_student.sh [OUT_DIR (default out)] [extra must_train_student flags]
# PSEUDOLABEL_FLAGS: extra must_pseudolabel flags (e.g. "--set policy.segmentation.confidence_threshold=0.3"); they
# apply when the store is written, so give them with a fresh OUT_DIR/labels.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" > /dev/null
out="${1:-$root/out}"
shift || true
bin="${MUST_BUILD_DIR:-$root/build}/bin"
for task in classification detection segmentation depth normals; do
  [[ -f "$out/teachers/$task/model_final.safetensors" ]] || { echo "no $task teacher in $out/teachers: run scripts/train_world_teachers.sh first" >&2; exit 1; }
done
cd "$root"  # the configs name the teachers' configs relative to the repository
teacher_weights=""
for task in classification detection segmentation depth normals; do
  teacher_weights+=" --set teachers.$task.weights=$out/teachers/$task/model_final.safetensors"
done

start=$(date +%s)
if ! "$bin/must_pseudolabel" --verify "$out/labels" > /dev/null 2>&1; then
  "$root/scripts/launch_local.sh" 2 -- "$bin/must_pseudolabel" --threads 1 --config configs/world/pseudolabel.yaml \
    --set input.root="$out/world" $teacher_weights ${PSEUDOLABEL_FLAGS:-} --output-dir "$out/labels" 2> "$out/labels.log" ||
    { tail -5 "$out/labels.log"; exit 1; }
fi
labels_s=$(( $(date +%s) - start ))

start=$(date +%s)
rm -rf "$out/student"
"$root/scripts/launch_local.sh" 2 -- "$bin/must_train_student" --threads 1 --config configs/world/student.yaml \
  --set sources.world_unlabeled.store="$out/labels" --set data.eval.root="$out/world" --output-dir "$out/student" "$@" \
  2> "$out/student.log" || { tail -5 "$out/student.log"; exit 1; }
student_s=$(( $(date +%s) - start ))

teachers=()
for task in classification detection segmentation depth normals; do teachers+=("$out/teachers/$task"); done
"$bin/must_eval" report --column "teacher=$(IFS=,; echo "${teachers[*]}")" --column "student=$out/student" \
  --baseline teacher --output "$out/student_vs_teachers.md" 2> "$out/report.log" || { tail -5 "$out/report.log"; exit 1; }
sed -n '/^|/p' "$out/student_vs_teachers.md"
echo "pseudo-labelling: $labels_s s; student training and evaluation: $student_s s"
