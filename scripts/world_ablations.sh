#!/usr/bin/env bash
# Two of the paper's ablations on the demo world, from a finished demo run (its world, teachers and store):
#   tasks: students that learn 1 (classification), 3 (classification, detection, segmentation) or all 5 tasks;
#   data:  students that learn all 5 tasks from 1/4, 1/2 or all of the unlabeled split.
# Every student trains as the demo's does (configs/world/student.yaml: its epochs of 10,000 samples each, so the
# same number of steps whatever its share of the images; a quarter of the images are each seen four times as
# often), then is fine-tuned on the six benchmarks as the demo's student is. The rows "5 tasks" and "all" are the
# demo's own student and fine-tunes.
# Usage: scripts/world_ablations.sh DEMO_DIR OUT_DIR [tasks|data ...]   (default: both)
# Writes OUT_DIR/<ablation>/<variant>/{labels,student,transfer/<benchmark>} and OUT_DIR/<ablation>.md, the table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 2 ]] || { sed -n '2,10p' "$0"; exit 2; }
demo="$(cd "$1" && pwd)"
mkdir -p "$2"
out="$(cd "$2" && pwd)"
shift 2
ablations=("$@")
[[ ${#ablations[@]} -gt 0 ]] || ablations=(tasks data)
bin="${MUST_BUILD_DIR:-$root/build}/bin"
cd "$root"  # configs name other configs relative to the repository
source scripts/lib/transfer.sh
all_tasks=(classification detection segmentation depth normals)
for part in world/dataset.json labels/manifest.json student/model_final.safetensors; do
  [[ -e "$demo/$part" ]] || { echo "$demo has no $part: run scripts/demo.sh $demo first" >&2; exit 1; }
done

# finetune STUDENT_DIR TRANSFER_DIR: the demo's fine-tunes of one student into TRANSFER_DIR/<benchmark>/student (the
# demo's layout), skipping finished ones.
finetune() {
  local student=$1 transfer=$2 benchmark
  for benchmark in "${transfer_benchmarks[@]}"; do
    [[ -f "$transfer/$benchmark/student/metrics.json" ]] && continue
    transfer_setup "$benchmark" "$demo/world"
    mkdir -p "$transfer/$benchmark"
    "$bin/must_eval" --mode finetune --config "$transfer_config" --weights "$student/model_final.safetensors" \
      "${transfer_sets[@]}" --output-dir "$transfer/$benchmark/student" > "$transfer/$benchmark/student.log" 2>&1 ||
      { tail -5 "$transfer/$benchmark/student.log"; exit 1; }
  done
}

# student DIR STORE [must_train_student flags]: the demo's student recipe on STORE, skipped when finished.
student() {
  local dir=$1 store=$2
  shift 2
  [[ -f "$dir/model_final.safetensors" && -f "$dir/metrics.json" ]] && return
  rm -rf "$dir"
  "$root/scripts/launch_local.sh" 2 -- "$bin/must_train_student" --threads 1 --config configs/world/student.yaml \
    --set sources.world_unlabeled.store="$store" --set data.eval.root="$demo/world" --output-dir "$dir" "$@" \
    > "$dir.log" 2>&1 || { tail -5 "$dir.log"; exit 1; }
}

# student_setting KEY: the value at KEY of the demo's student config, resolved, on one line (as --set takes it).
student_setting() {
  "$bin/must_train_student" --config configs/world/student.yaml --print-config "$1"
}

# table NAME LABEL=TRANSFER_DIR...: the fine-tuned students side by side (must_eval report), into OUT_DIR/NAME.md.
table() {
  local name=$1 columns=() entry
  shift
  for entry in "$@"; do
    local label=${entry%%=*} dir=${entry#*=} runs=() benchmark
    for benchmark in "${transfer_benchmarks[@]}"; do runs+=("$dir/$benchmark/student"); done
    columns+=(--column "$label=$(IFS=,; echo "${runs[*]}")")
  done
  "$bin/must_eval" report "${columns[@]}" --output "$out/$name.md" > "$out/$name.log" 2>&1 ||
    { tail -5 "$out/$name.log"; exit 1; }
  echo "== $name: $out/$name.md"
  sed -n '/^|/p' "$out/$name.md"
}

for ablation in "${ablations[@]}"; do
  case $ablation in
    tasks)
      # A student of fewer tasks learns only those of the store's labels, and carries only their heads.
      declare -A subsets=([1_task]="classification" [3_tasks]="classification detection segmentation")
      for variant in 1_task 3_tasks; do
        read -r -a tasks <<< "${subsets[$variant]}"
        dir="$out/tasks/$variant"
        mkdir -p "$dir"
        heads="{_delete_: true" weights="{_delete_: true"
        # Each kept head and loss weight as the demo student's, read from its resolved config.
        head_sets=()
        for task in "${tasks[@]}"; do
          heads+=", $task: {}"
          weights+=", $task: $(student_setting "student.loss_weighting.weights.$task")"
          head_sets+=(--set "model.heads.$task=$(student_setting "model.heads.$task")")
        done
        heads+="}" weights+="}"
        start=$(date +%s)
        student "$dir/student" "$demo/labels" --set "model.heads=$heads" "${head_sets[@]}" \
          --set "student.loss_weighting.weights=$weights" \
          --set "sources.world_unlabeled.pseudo_tasks=[$(IFS=,; echo "${tasks[*]}")]"
        finetune "$dir/student" "$dir/transfer"
        echo "   tasks/$variant: $(( $(date +%s) - start )) s"
      done
      table tasks "1 task=$out/tasks/1_task/transfer" "3 tasks=$out/tasks/3_tasks/transfer" "5 tasks=$demo/transfer"
      ;;
    data)
      for share in 0.25 0.5; do
        dir="$out/data/share_$share"
        mkdir -p "$dir"
        start=$(date +%s)
        if ! "$bin/must_pseudolabel" --verify "$dir/labels" > /dev/null 2>&1; then
          teachers=()
          for task in "${all_tasks[@]}"; do
            teachers+=(--set "teachers.$task.weights=$demo/teachers/$task/model_final.safetensors")
          done
          "$root/scripts/launch_local.sh" 2 -- "$bin/must_pseudolabel" --threads 1 --config configs/world/pseudolabel.yaml \
            --set input.root="$demo/world" --set input.fraction=$share "${teachers[@]}" --output-dir "$dir/labels" \
            > "$dir/labels.log" 2>&1 || { tail -5 "$dir/labels.log"; exit 1; }
        fi
        # The store's images are that share of the split: the student reads them as the store's input was read.
        student "$dir/student" "$dir/labels" --set student.epoch_length=10000 \
          --set sources.world_unlabeled.dataset.format=world --set sources.world_unlabeled.dataset.root="$demo/world" \
          --set sources.world_unlabeled.dataset.split=unlabeled --set sources.world_unlabeled.dataset.fraction=$share
        finetune "$dir/student" "$dir/transfer"
        echo "   data/share_$share: $(( $(date +%s) - start )) s"
      done
      table data "1/4=$out/data/share_0.25/transfer" "1/2=$out/data/share_0.5/transfer" "all=$demo/transfer"
      ;;
    *) echo "unknown ablation '$ablation': tasks or data" >&2; exit 2 ;;
  esac
done
