#!/usr/bin/env bash
# All of MuST on the built-in world, on this machine's CPU, and the answer in one table:
#   scripts/demo.sh [--quick] [OUT_DIR (default runs/demo; runs/demo_quick with --quick)]
# Stages, each printing what it runs, its progress and ETA, and its wall time:
#   1 set-up   2 the world   3 five teachers   4 pseudo-labels (2 local processes)   5 the student (2 ranks)
#   6 the student and each teacher scored on the world's validation split (their training runs' final evaluations)
#   7 the transfer protocol: each world downstream split and Fashion-MNIST, fine-tuned from the student, from the
#     teacher of that task (Fashion-MNIST: the classification teacher) and from scratch
#   8 the table: OUT/report.md with OUT/report.png beside it
# A rerun skips finished stages and resumes a killed one where its last checkpoint left it (pseudo-labelling
# redoes only unfinished shards). --quick runs the same path on the tests' tiny world and a few steps each.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
default_out="$root/runs/demo"
[[ $quick == 1 ]] && default_out+=_quick
out="${1:-$default_out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
bin="${MUST_BUILD_DIR:-$root/build}/bin"
tasks=(classification detection segmentation depth normals)
cd "$root"  # configs name other configs relative to the repository
source scripts/lib/transfer.sh

demo_start=$(date +%s)
stage_start=0
stage() { stage_start=$(date +%s); echo "== $*"; }
stage_done() { echo "   done in $(( $(date +%s) - stage_start )) s"; }

# fail STATUS LOG COMMAND...: says which command failed and shows the end of its log, then stops the demo.
fail() {
  local status=$1 log=$2
  shift 2
  echo "   FAILED (exit $status): $*" >&2
  tail -5 "$log" | sed 's/^/   /' >&2
  exit 1
}
# run LOG COMMAND...: runs COMMAND with its whole log in LOG.
run() {
  local log=$1
  shift
  mkdir -p "$(dirname "$log")"
  "$@" > "$log" 2>&1 || fail $? "$log" "$@"
}
# run_with_progress LOG COMMAND...: the same, showing the progress lines (step / total, images/s, ETA) on one line.
run_with_progress() {
  local log=$1
  shift
  mkdir -p "$(dirname "$log")"
  set +e
  "$@" 2>&1 | tee "$log" | sed -u -n 's/.*\] \(iter [0-9]*\/[0-9]*\).* \([0-9.]* images\/s\).*\(ETA [0-9hms]*\).*/   \1  \2  \3/p' |
    awk '{ printf "\r%s   ", $0; fflush() } END { if (NR) print "" }'
  local status=${PIPESTATUS[0]}
  set -e
  [[ $status == 0 ]] || fail "$status" "$log" "$@"
}
# train DIR LOG COMMAND...: a training run into DIR, skipped when finished, resumed when a checkpoint is there.
train() {
  local dir=$1 log=$2
  shift 2
  if [[ -f "$dir/model_final.safetensors" && -f "$dir/metrics.json" ]]; then echo "   $dir: finished earlier"; return; fi
  local resume=()
  if [[ -f "$dir/last_checkpoint" ]]; then resume=(--resume); echo "   $dir: resuming"; fi
  run_with_progress "$log" "$@" --output-dir "$dir" "${resume[@]}"
}

stage "1. set-up (Debian packages, Release build)"
"$root/scripts/setup.sh" > "$out/setup.log" 2>&1 || { tail -20 "$out/setup.log"; exit 1; }
stage_done

# Sizes: the demo world and the configs' schedules, or the tests' quick world and a few steps.
if [[ $quick == 1 ]]; then
  world_config=configs/quick/world.yaml
  teacher_configs=configs/quick/teachers
  student_config=configs/quick/student.yaml
  student_sets=(--set sources.teacher_depth.dataset.root="$out/world")
  short=(--set train.epochs=0 --set train.max_iterations=6 --set train.log_period=2 --set data.loader.batch_size=4
         --set data.loader.workers=1)
  fashion_sets=(--set data.train.fraction=0.002 --set data.eval.fraction=0.05)
else
  world_config=configs/world/world.yaml
  teacher_configs=configs/world/teachers
  student_config=configs/world/student.yaml
  student_sets=()
  short=()
  fashion_sets=()
fi
roots=(--set data.train.root="$out/world" --set data.eval.root="$out/world")

stage "2. the world: $out/world"
if [[ ! -f "$out/world/dataset.json" ]]; then
  run "$out/logs/world.log" "$bin/must_make_world" --config "$world_config" --output-dir "$out/world"
  run "$out/logs/preview.log" "$bin/must_make_world" --config "$world_config" --output-dir "$out/world" --preview 8
else
  echo "   written earlier"
fi
echo "   preview sheet (image | class map | depth | normals | boxes): $out/world/preview.png"
stage_done

stage "3. five specialised teachers, one after the other: $out/teachers"
for task in "${tasks[@]}"; do
  echo "   $task teacher"
  train "$out/teachers/$task" "$out/logs/teacher_$task.log" "$bin/must_train_teacher" --config "$teacher_configs/$task.yaml" \
    "${roots[@]}"
done
stage_done

stage "4. pseudo-labels: the five teachers over the unlabeled split, 2 local processes: $out/labels"
if "$bin/must_pseudolabel" --verify "$out/labels" > /dev/null 2>&1; then
  echo "   finished earlier (verified)"
else
  teachers=()
  for task in "${tasks[@]}"; do
    teachers+=(--set "teachers.$task.config=$teacher_configs/$task.yaml"
               --set "teachers.$task.weights=$out/teachers/$task/model_final.safetensors")
  done
  store_sets=()
  [[ $quick == 1 ]] && store_sets=(--set store.shard_size=8 --set data.loader.batch_size=8)
  run "$out/logs/pseudolabel.log" "$root/scripts/launch_local.sh" 2 -- "$bin/must_pseudolabel" --threads 1 \
    --config configs/world/pseudolabel.yaml --set input.root="$out/world" "${teachers[@]}" "${store_sets[@]}" \
    --output-dir "$out/labels"
  "$bin/must_pseudolabel" --verify "$out/labels" | tail -1 | sed 's/^/   /'
fi
stage_done

stage "5. the student: all five heads on the pseudo labels, 2 ranks of 1 thread: $out/student"
train "$out/student" "$out/logs/student.log" "$root/scripts/launch_local.sh" 2 -- "$bin/must_train_student" --threads 1 \
  --config "$student_config" --set sources.world_unlabeled.store="$out/labels" --set data.eval.root="$out/world" \
  "${student_sets[@]}"
stage_done

stage "6. the student and each teacher on the world's validation split"
# The training runs evaluated on the validation split as they ended: their metrics.json are the scores.
echo "   the runs' own final evaluations: $out/student/metrics.json, $out/teachers/<task>/metrics.json"
stage_done

stage "7. transfer: fine-tuning from the student, the task's teacher and scratch: $out/transfer"
for benchmark in "${transfer_benchmarks[@]}"; do
  transfer_setup "$benchmark" "$out/world"
  sets=("${transfer_sets[@]}")
  [[ $benchmark == fashion_mnist ]] && sets+=("${fashion_sets[@]}")
  for start in student teacher scratch; do
    case $start in
      student) weights="$out/student/model_final.safetensors" ;;
      teacher) weights="$out/teachers/$transfer_teacher/model_final.safetensors" ;;
      scratch) weights=none ;;
    esac
    echo "   $benchmark from the $start"
    train "$out/transfer/$benchmark/$start" "$out/logs/transfer_${benchmark}_$start.log" "$bin/must_eval" \
      --mode finetune --config "$transfer_config" --weights "$weights" "${sets[@]}" "${short[@]}"
  done
done
stage_done

stage "8. the table: $out/report.md"
# One column per starting point: the student, the specialised teacher of each row's task, scratch. Rows: each task
# on the validation split (student vs teacher, no fine-tuning), then each fine-tuned benchmark.
student_runs=("$out/student") teacher_runs=("${tasks[@]/#/$out/teachers/}") scratch_runs=()
for benchmark in "${transfer_benchmarks[@]}"; do
  student_runs+=("$out/transfer/$benchmark/student")
  teacher_runs+=("$out/transfer/$benchmark/teacher")
  scratch_runs+=("$out/transfer/$benchmark/scratch")
done
joined() { local IFS=,; echo "$*"; }
run "$out/logs/report.log" "$bin/must_eval" report --column "student=$(joined "${student_runs[@]}")" \
  --column "teacher=$(joined "${teacher_runs[@]}")" --column "scratch=$(joined "${scratch_runs[@]}")" \
  --output "$out/report.md"
sed -n '/^|/p' "$out/report.md"
stage_done
echo "== all of MuST in $(( $(date +%s) - demo_start )) s; the table: $out/report.md, the chart: $out/report.png"
