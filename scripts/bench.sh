#!/usr/bin/env bash
# Benchmarks that print their figures (never timed tests): scripts/bench.sh [world|model|detection|loader ...]
#   world   must_make_world on configs/world/world.yaml (52,000 images of 64x64 with their splits' labels), into a fresh folder
#   model   must_bench_model (ResNet-50-FPN + 4 heads, 224x224, batch 8; the world's small model) next to
#           bench/peers/peer_model.py, the same architecture in PyTorch, run right after with the same threads
#   detection  must_bench_model --which detection (Faster R-CNN R50-FPN, 2 images of 512x512, training step and
#           inference) next to bench/peers/peer_detection.py (torchvision's fasterrcnn_resnet50_fpn, same stages)
#   eval    must_bench_eval: COCO AP over 5,000 images x 100 detections x 7 ground-truth boxes (one thread), and
#           mIoU accumulation in pixels/s (no peer: pycocotools is not installable here)
#   trainer must_train_teacher's images/s on bench/world_small_trainer.yaml (the world's PNGs through the threaded
#           loader) next to must_bench_model --which world's bare training step for the same model and batch
#   pseudolabel  must_pseudolabel with the five ResNet-50-FPN teachers of bench/pseudolabel/ (random weights) over
#           bench/peers/make_jpegs.py's JPEGs at 224x224 (IMAGES=48), next to bench/peers/peer_pseudolabel.py;
#           then the five world teachers at 64x64 over 1,000 world images
#   data_parallel  must_train_teacher on the trainer benchmark's model and data: 1 process x 2 threads against 2
#           ranks x 1 thread (scripts/launch_local.sh), images/s of each and the all-reduce wait per step
#   student the same for must_train_student: the world student's model (all five heads) on bench/world_student.yaml
#   loader  must_bench_loader (JPEG decode + RandomResizedCrop 224 + flip + normalise, batch 32, 2 workers) on
#           1,000 images from bench/peers/make_jpegs.py, next to bench/peers/peer_loader.py (WORKERS=2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" > /dev/null
bin="${MUST_BUILD_DIR:-$root/build}/bin"
threads="${THREADS:-$(nproc)}"
work="$(mktemp -d "${TMPDIR:-/tmp}/must-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# ratio NAME OURS PEER TEXT: ours / peer, from the lines of TEXT that start "OURS <value> images/s" and
# "PEER <value> images/s".
ratio() {
  awk -v ours_prefix="$2" -v peer_prefix="$3" -v name="$1" '
    index($0, ours_prefix) == 1 { ours = $(NF - 1) }
    index($0, peer_prefix) == 1 { peer = $(NF - 1) }
    END { if (peer > 0) printf "ratio %s (ours / peer): %.2fx\n", name, ours / peer }' <<<"$4"
}

# metric FILE KEY [STEP]: KEY's value in the metrics.jsonl FILE, on the line of STEP (default: the last line with KEY).
metric() {
  python3 - "$@" <<'PY'
import json, sys
path, key = sys.argv[1], sys.argv[2]
lines = [line for line in map(json.loads, open(path)) if key in line]
if len(sys.argv) > 3:
    lines = [line for line in lines if line["step"] == int(sys.argv[3])]
print(lines[-1][key] if lines else "")
PY
}

# pseudolabel_rate STORE: images/s of the store's largest shard (model loading excluded, as the peer's), from its
# metrics.jsonl.
pseudolabel_rate() {
  python3 - "$1/metrics.jsonl" <<'PY'
import json, sys
shards = [line for line in map(json.loads, open(sys.argv[1])) if "pseudolabel/images" in line]
print(f'{max(shards, key=lambda line: line["pseudolabel/images"])["pseudolabel/images_per_s"]:.2f}')
PY
}

bench_world() {
  for run in 1 2 3; do
    "$bin/must_make_world" --config "$root/configs/world/world.yaml" --threads "$threads" \
      --output-dir "$work/world$run" 2>/dev/null
    rate=$(metric "$work/world$run/metrics.jsonl" world/images_per_s)
    printf 'world (run %d, %d threads): %.0f images/s\n' "$run" "$threads" "$rate"
    rm -rf "$work/world$run"
  done
}

bench_model() {
  local iters="${ITERS:-5}" ours peer
  ours=$("$bin/must_bench_model" --threads "$threads" --iters "$iters")
  echo "$ours"
  peer=$(THREADS="$threads" ITERS="$iters" /usr/bin/python3 "$root/bench/peers/peer_model.py")
  echo "$peer"
  for kind in infer train; do
    ratio "$kind" "must_model_${kind}[resnet50" "peer_model_${kind}:" "$ours"$'\n'"$peer"
  done
}

bench_detection() {
  local iters="${ITERS:-3}" ours peer
  ours=$("$bin/must_bench_model" --which detection --threads "$threads" --iters "$iters")
  peer=$(THREADS="$threads" ITERS="$iters" /usr/bin/python3 "$root/bench/peers/peer_detection.py")
  echo "$ours"
  echo "$peer"
  for kind in infer train; do
    ratio "detection $kind" "must_detection_${kind}[" "peer_detection_${kind}:" "$ours"$'\n'"$peer"
  done
}

bench_loader() {
  local ours peer
  /usr/bin/python3 "$root/bench/peers/make_jpegs.py" "$work/loader_jpegs" "${IMAGES:-1000}" > /dev/null
  for run in 1 2; do
    ours=$("$bin/must_bench_loader" "$work/loader_jpegs" --workers 2)
    peer=$(WORKERS=2 /usr/bin/python3 "$root/bench/peers/peer_loader.py" "$work/loader_jpegs")
    echo "$ours"
    echo "$peer"
    ratio loader "must_loader:" "peer_loader:" "$ours"$'\n'"$peer"
  done
}

# The world's validation split alone, 1,280 images, for the training benchmarks.
make_trainer_world() {
  local splits=""
  for split in teacher_classification teacher_detection teacher_segmentation teacher_depth teacher_normals unlabeled \
               downstream_train downstream_val; do
    splits+=" --set world.splits.$split.count=0"
  done
  "$bin/must_make_world" --config "$root/configs/world/world.yaml" --threads "$threads" --output-dir "$work/world" \
    --set world.splits.val.count=1280 $splits 2>/dev/null
}

bench_trainer() {
  local loop bare ratios=""
  make_trainer_world
  # This machine's speed drifts by tens of percent from minute to minute: loop and bare step alternate, five
  # times, over the same number of steps (80: the loop's epochs 2 and 3 of 40 batches, their boundaries
  # included), and the median of the five ratios is the figure.
  for run in 1 2 3 4 5; do
    rm -rf "$work/trainer"
    "$bin/must_train_teacher" --config "$root/bench/world_small_trainer.yaml" --threads "$threads" \
      --set data.train.root="$work/world" --set train.max_iterations=120 --set train.log_period=40 \
      --output-dir "$work/trainer" 2> /dev/null
    # Steps 41-80 and 81-120, 40 each: images/s over both is their harmonic mean.
    loop=$(for step in 80 120; do metric "$work/trainer/metrics.jsonl" time/images_per_s "$step"; done |
             awk '{ t += 1 / $1 } END { if (NR == 2) printf "%.1f", 2 / t }')
    bare=$("$bin/must_bench_model" --which world --threads "$threads" --iters 80 | sed -n 's/^must_model_train\[world_small_64\]: \([0-9.]*\).*/\1/p')
    echo "trainer loop (run $run): $loop images/s (steps 41-120); bare training step: $bare images/s (80 steps)"
    ratios+="$(awk -v a="$loop" -v b="$bare" 'BEGIN { printf "%.3f", a / b }') "
  done
  tr ' ' '\n' <<<"$ratios" | grep . | sort -n | awk '{ r[NR] = $1 } END { printf "ratio trainer loop / bare step: %.2f (median of %s)\n", r[3], r[1] " " r[2] " " r[3] " " r[4] " " r[5] }'
}

# data_parallel NAME TOOL CONFIG ROOT_KEY ITERATIONS: TOOL on CONFIG (its data root at ROOT_KEY) over the trainer
# world, one process on 2 threads against 2 ranks (scripts/launch_local.sh) of 1 thread each, batch 32 per step in
# all (16 per rank), alternating twice; images/s of the last logged steps of each, and the all-reduce wait per step.
data_parallel() {
  local name=$1 tool=$2 config=$3 root_key=$4 iterations=$5 one two wait
  for run in 1 2; do
    rm -rf "$work/dp1" "$work/dp2"
    "$bin/$tool" --config "$config" --threads 2 --set "$root_key=$work/world" --output-dir "$work/dp1" 2> /dev/null
    "$root/scripts/launch_local.sh" 2 -- "$bin/$tool" --config "$config" --threads 1 --set "$root_key=$work/world" \
      --set data.loader.batch_size=16 --set data.loader.workers=1 --output-dir "$work/dp2" > /dev/null 2>&1
    one=$(metric "$work/dp1/metrics.jsonl" time/images_per_s "$iterations" | awk '{ printf "%.1f", $1 }')
    two=$(metric "$work/dp2/metrics.jsonl" time/images_per_s "$iterations" | awk '{ printf "%.1f", $1 }')
    wait=$(metric "$work/dp2/metrics.jsonl" time/allreduce_wait_s "$iterations" | awk '{ printf "%.1f", 1000 * $1 }')
    echo "$name data parallel (run $run): 1 process x 2 threads $one images/s; 2 ranks x 1 thread $two images/s (all-reduce wait $wait ms/step)"
    awk -v a="$two" -v b="$one" 'BEGIN { printf "ratio 2x1 / 1x2: %.2f\n", a / b }'
  done
}

bench_data_parallel() {
  make_trainer_world
  data_parallel teacher must_train_teacher "$root/bench/world_small_trainer.yaml" data.train.root 60
}

bench_student() {
  make_trainer_world
  data_parallel student must_train_student "$root/bench/world_student.yaml" sources.val.dataset.root 30
}

bench_eval() {
  for run in 1 2 3; do "$bin/must_bench_eval"; done
}

bench_pseudolabel() {
  local images="${IMAGES:-48}" sets="" ours peer
  cd "$root"  # the benchmark config names its teachers' configs relative to the repository
  source "$root/scripts/env.sh"  # OpenBLAS's kernels for this CPU, for both sides
  echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
  /usr/bin/python3 "$root/bench/peers/make_jpegs.py" "$work/jpegs" "$images" > /dev/null
  # The classifier and the detector get the peer's own random weights (torchvision names, which ours import): the
  # detector's work depends on its weights (how many proposals survive the RPN's NMS). The peer draws them after
  # torch.manual_seed(0), classifier first. The dense teachers' work does not depend on their weights.
  /usr/bin/python3 -c "
import torch, torchvision
torch.manual_seed(0)
torch.save(torchvision.models.resnet50().state_dict(), '$work/classification.pth')
torch.save(torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(),
           '$work/detection.pth')"
  sets=" --set teachers.classification.weights=$work/classification.pth --set teachers.detection.weights=$work/detection.pth"
  for task in segmentation depth normals; do
    "$bin/must_bench_random_teacher" --config "bench/pseudolabel/$task.yaml" --output "$work/$task.safetensors"
    sets+=" --set teachers.$task.weights=$work/$task.safetensors"
  done
  for run in 1 2; do
    rm -rf "$work/store" "$work/peer"
    "$bin/must_pseudolabel" --threads "$threads" --config bench/pseudolabel/pseudolabel.yaml $sets \
      --set input.root="$work/jpegs" --set store.shard_size="$images" --output-dir "$work/store" 2> /dev/null
    ours=$(pseudolabel_rate "$work/store")
    peer=$(THREADS="$threads" SHARD="$images" /usr/bin/python3 "$root/bench/peers/peer_pseudolabel.py" "$work/jpegs" \
             "$work/peer" | sed -n 's/^peer_pseudolabel: \([0-9.]*\).*/\1/p')
    echo "pseudolabel, five ResNet-50-FPN teachers, 224x224, $images JPEGs (run $run): must_pseudolabel $ours images/s, peer $peer images/s"
    awk -v a="$ours" -v b="$peer" 'BEGIN { if (b > 0) printf "ratio pseudolabel (ours / peer): %.2fx\n", a / b }'
  done
  # The five world teachers (random weights) at 64 x 64 over 1,000 world images.
  "$bin/must_make_world" --config configs/world/world.yaml --threads "$threads" --output-dir "$work/world" \
    --set world.splits.unlabeled.count=1000 $(for split in teacher_classification teacher_detection \
      teacher_segmentation teacher_depth teacher_normals val downstream_train downstream_val; do
      echo "--set world.splits.$split.count=0"; done) 2>/dev/null
  sets=""
  for task in classification detection segmentation depth normals; do
    "$bin/must_bench_random_teacher" --config "configs/world/teachers/$task.yaml" --output "$work/world_$task.safetensors"
    sets+=" --set teachers.$task.config=configs/world/teachers/$task.yaml --set teachers.$task.weights=$work/world_$task.safetensors"
  done
  rm -rf "$work/world_store"
  "$bin/must_pseudolabel" --threads "$threads" --config bench/pseudolabel/pseudolabel.yaml $sets \
    --set input.format=world --set input.root="$work/world" --set input.split=unlabeled \
    --set data.augment.resize.mode=none --set store.dense_size=[0,0] --set data.loader.batch_size=32 \
    --output-dir "$work/world_store" 2> /dev/null
  ours=$(pseudolabel_rate "$work/world_store")
  echo "pseudolabel, the five world teachers, 64x64, 1000 world images: must_pseudolabel $ours images/s"
}

for what in "${@:-world}"; do
  case "$what" in
    world) bench_world ;;
    model) bench_model ;;
    detection) bench_detection ;;
    loader) bench_loader ;;
    eval) bench_eval ;;
    trainer) bench_trainer ;;
    pseudolabel) bench_pseudolabel ;;
    data_parallel) bench_data_parallel ;;
    student) bench_student ;;
    *) echo "bench.sh: unknown benchmark '$what' (known: world, model, detection, loader, eval, trainer, pseudolabel, data_parallel, student)" >&2
       exit 2 ;;
  esac
done
