#!/usr/bin/env bash
# The sbatch examples on this machine's single-node Slurm (scripts/slurm/local_cluster.sh), on the quick world, CPU:
#   scripts/slurm/check_local.sh [OUT_DIR (default runs/slurm_check)]
# 1. pseudolabel.sbatch with 2 tasks: the store verifies and equals one process's, shard by shard;
# 2. the same, scancel'ed once 3 of its 14 shards are done, then submitted again: the second job completes the same
#    store;
# 3. the same, requeued (scontrol requeue) once 3 shards are done: the job runs again and completes the same store;
# 4. student.sbatch with 2 tasks on that store: the ranks end with bit-identical parameters;
# 5. teachers.sbatch, an array of two quick teachers, and 6. benchmarks.sbatch, a fine-tune of that student.
# Teachers: the quick ones, trained 6 steps each by scripts/pipeline_smoke.sh. Prints each check and its time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/runs/slurm_check}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
bin="${MUST_BUILD_DIR:-$root/build}/bin"
cd "$root"
command -v sbatch > /dev/null && sinfo -h > /dev/null 2>&1 ||
  { echo "check_local.sh: no Slurm here: run scripts/slurm/local_cluster.sh (as root) first" >&2; exit 1; }
export DEVICE=cpu
# seconds since START
since() { echo $(( $(date +%s) - $1 )); }
# The manifest's shard hashes, one per line.
hashes() { grep -o '"sha256": *"[0-9a-f]*"' "$1/manifest.json"; }
# Submits and waits for the job to end; fails naming its output when it did not complete.
submit_and_wait() {
  local job
  job=$(sbatch --parsable --wait "$@") || { echo "check_local.sh: job failed: sbatch $*" >&2; exit 1; }
  echo "$job"
}

start=$(date +%s)
"$root/scripts/pipeline_smoke.sh" cpu "$out/smoke" > "$out/smoke.log" 2>&1 ||
  { tail -5 "$out/smoke.log"; echo "check_local.sh: the quick teachers could not be made" >&2; exit 1; }
# A larger unlabeled split than the quick world's, so that a job lasts long enough to be cancelled in the middle.
rm -rf "$out/world"
"$bin/must_make_world" --config configs/quick/world.yaml --set world.splits.unlabeled.count=160 \
  --output-dir "$out/world" > "$out/world.log" 2>&1
teachers=()
for task in classification detection segmentation depth normals; do
  teachers+=(--set "teachers.$task.config=configs/quick/teachers/$task.yaml"
             --set "teachers.$task.weights=$out/smoke/teachers/$task/model_final.safetensors")
done
label_sets=(--set input.root="$out/world" "${teachers[@]}" --set store.shard_size=12 --set data.loader.batch_size=4
            --set data.loader.workers=1)
rm -rf "$out/reference" "$out/store" "$out/cancelled" "$out/requeued" "$out/student" "$out/teachers" "$out/transfer"
"$bin/must_pseudolabel" --threads 1 --config configs/world/pseudolabel.yaml "${label_sets[@]}" \
  --output-dir "$out/reference" > "$out/reference.log" 2>&1
echo "check_local.sh: teachers, world and the one-process reference store: $(since "$start") s"

# label_job STORE [sbatch flags...]: submits pseudolabel.sbatch of 2 tasks into STORE; prints the job's id.
label_job() {
  local store=$1
  shift
  sbatch --parsable --ntasks=2 --output="$store.slurm.out" "$@" scripts/slurm/pseudolabel.sbatch \
    configs/world/pseudolabel.yaml "$store" "${label_sets[@]}"
}
# expect_reference_store STORE WHAT: STORE verifies, shard for shard the one-process store.
expect_reference_store() {
  "$bin/must_pseudolabel" --verify "$1" > /dev/null
  [[ $(hashes "$1") == $(hashes "$out/reference") ]] || { echo "check_local.sh: $2 differs from one process's" >&2; exit 1; }
}
# shards_done STORE: how many of its shards are finished.
shards_done() { ls "$1/shards/"*.done 2> /dev/null | wc -l; }
# until_gone JOB: waits until Slurm no longer lists the job.
until_gone() { while squeue -h -j "$1" 2> /dev/null | grep -q .; do sleep 0.2; done; }
# interrupt_at_3_shards STORE COMMAND...: a labelling job into STORE; once 3 shards are done, `COMMAND... JOB`; then
# waits until Slurm no longer lists the job. Sets done_at: the shards done when COMMAND had run.
interrupt_at_3_shards() {
  local store=$1 job
  shift
  job=$(label_job "$store")
  until [[ $(shards_done "$store") -ge 3 ]]; do sleep 0.05; done
  "$@" "$job"
  done_at=$(shards_done "$store")
  until_gone "$job"
}

t=$(date +%s)
label_job "$out/store" --wait > /dev/null || { echo "check_local.sh: the pseudo-labelling job failed" >&2; exit 1; }
expect_reference_store "$out/store" "the 2-task store"
echo "check_local.sh: 1. pseudolabel.sbatch, 2 tasks: the store verifies and equals one process's ($(since "$t") s)"

t=$(date +%s)
interrupt_at_3_shards "$out/cancelled" scancel
done_at_cancel=$done_at
[[ $(shards_done "$out/cancelled") -lt 14 ]] || { echo "check_local.sh: the job ended before scancel" >&2; exit 1; }
label_job "$out/cancelled" --wait > /dev/null || { echo "check_local.sh: the resubmitted job failed" >&2; exit 1; }
expect_reference_store "$out/cancelled" "the resubmitted store"
echo "check_local.sh: 2. scancel at $done_at_cancel of 14 shards, resubmitted: the store completes, the same ($(since "$t") s)"

t=$(date +%s)
# Slurm holds a requeued job for a while (its begin time) before it runs it again.
interrupt_at_3_shards "$out/requeued" scontrol requeue
done_at_requeue=$done_at
expect_reference_store "$out/requeued" "the requeued store"
grep -q "restart 1 of this run (SLURM_RESTART_COUNT=1)" "$out/requeued/log.rank0.txt" ||
  { echo "check_local.sh: the requeued job did not run again" >&2; exit 1; }
echo "check_local.sh: 3. scontrol requeue at $done_at_requeue of 14 shards: the job ran again and completed the same store ($(since "$t") s, Slurm's hold included)"

t=$(date +%s)
submit_and_wait --ntasks=2 --output="$out/student.slurm.out" scripts/slurm/student.sbatch configs/quick/student.yaml \
  "$out/student" --set sources.world_unlabeled.store="$out/store" \
  --set sources.teacher_depth.dataset.root="$out/world" --set data.eval.root="$out/world" > /dev/null
grep -q "the 2 ranks hold bit-identical parameters" "$out/student/log.rank0.txt" ||
  { echo "check_local.sh: the student's ranks did not report identical parameters" >&2; exit 1; }
echo "check_local.sh: 4. student.sbatch, 2 tasks: trained, the ranks' parameters bit-identical ($(since "$t") s)"
t=$(date +%s)
short=(--set train.epochs=0 --set train.max_iterations=4 --set data.loader.batch_size=4 --set data.loader.workers=1
       --set data.train.root="$out/world" --set data.eval.root="$out/world")
submit_and_wait --array=0-1 --ntasks=2 --output="$out/teachers.slurm.out" scripts/slurm/teachers.sbatch \
  "$out/teachers" configs/quick/teachers/depth.yaml configs/quick/teachers/normals.yaml -- "${short[@]}" > /dev/null
for task in depth normals; do
  [[ -f $out/teachers/$task/model_final.safetensors ]] || { echo "check_local.sh: teachers.sbatch wrote no $task teacher" >&2; exit 1; }
done
echo "check_local.sh: 5. teachers.sbatch, an array of 2 teachers of 2 tasks each: both trained ($(since "$t") s)"

t=$(date +%s)
submit_and_wait --array=0 --ntasks=2 --output="$out/benchmarks.slurm.out" scripts/slurm/benchmarks.sbatch \
  "$out/student/model_final.safetensors" "$out/transfer" configs/world/eval/downstream_depth.yaml -- "${short[@]}" > /dev/null
[[ -f $out/transfer/downstream_depth/metrics.json ]] || { echo "check_local.sh: benchmarks.sbatch scored nothing" >&2; exit 1; }
echo "check_local.sh: 6. benchmarks.sbatch, the student fine-tuned on 2 tasks: scored ($(since "$t") s)"
echo "check_local.sh: all passed in $(since "$start") s"
