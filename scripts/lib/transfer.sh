# The transfer protocol's benchmarks and how each is fine-tuned: sourced by scripts/demo.sh and
# scripts/world_ablations.sh, so that both fine-tune on the same benchmarks with the same configs.
#   transfer_benchmarks          the world's five downstream tasks, then Fashion-MNIST
#   transfer_setup BENCHMARK WORLD_DIR
#                                sets transfer_config (must_eval's config, relative to the repository),
#                                transfer_teacher (the task whose teacher the "teacher" column starts from) and
#                                transfer_sets (the --set flags that point the config at WORLD_DIR)
transfer_benchmarks=(classification detection segmentation depth normals fashion_mnist)

transfer_setup() {
  local benchmark=$1 world=$2
  if [[ $benchmark == fashion_mnist ]]; then
    transfer_config=configs/world/eval/fashion_mnist.yaml transfer_teacher=classification transfer_sets=()
  else
    transfer_config=configs/world/eval/downstream_$benchmark.yaml transfer_teacher=$benchmark
    transfer_sets=(--set data.train.root="$world" --set data.eval.root="$world")
  fi
}
