#!/usr/bin/env bash
# The GPU path, on a machine with CUDA and its own PyTorch (2.x) but none of this project's Debian packages:
# builds against that PyTorch, runs the compute tests on the GPU, times the paper's student, and runs the whole
# pipeline on the quick world on the GPU.
#
#   scripts/gpu_check.sh --prepare   on this machine (Debian, scripts/setup.sh's packages): the header-only
#                                    libraries, gloo's headers and googletest's sources into third_party/
#                                    (scripts/third_party_folder.sh; git-ignored, ~7 MB) for the device run to carry
#   scripts/gpu_check.sh             on the GPU machine: configures build-gpu/ against torch.utils.cmake_prefix_path
#                                    with MUST_THIRD_PARTY=third_party: every tool where OpenCV, libjpeg-turbo,
#                                    libpng, tinyxml2, HDF5 and yaml-cpp are found (CMAKE_PREFIX_PATH may add a conda
#                                    environment), else the compute modules alone (MUST_LIBTORCH_ONLY, naming what
#                                    was missing); builds what compiles (keeps going past a target that does not, and
#                                    names it); runs the compute modules' test binaries (TESTS=all: every one) with
#                                    the device tests on cuda:0 (collectives through NCCL where PyTorch has it); times
#                                    the paper's student (ResNet-50-FPN, five heads, 512x512, bf16 autocast): images/s
#                                    and model FLOPs utilisation; then, where the tools built, scripts/pipeline_smoke.sh
#                                    on cuda (teachers, must_pseudolabel on one rank, the student, must_eval)
#
# Environment: PYTHON (the interpreter that imports torch; default python3), BATCH (16), ITERS (10), PRECISION
# (bf16), PEAK_TFLOPS (dense peak at PRECISION; known GPUs by name), JOBS (all cores), BUILD (build-gpu), TESTS.
# Without a GPU it runs the same steps: the device tests then dry-run on the CPU (MUST_TEST_DEVICE=cpu), the
# student is timed on the CPU at 128x128, batch 2, and the pipeline runs on the CPU — a check of this script.
# Exit status: 0 when everything built and every test passed, 1 otherwise (the summary names what failed).
# Configuring against a CUDA build of PyTorch needs the CUDA toolkit (nvcc, headers) that PyTorch was built with.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
third_party="$root/third_party"

if [[ ${1:-} == --prepare ]]; then
  exec "$root/scripts/third_party_folder.sh" "$third_party"
fi

[[ -f $third_party/include/spdlog/spdlog.h ]] || { echo "gpu_check.sh: no third_party/: run scripts/gpu_check.sh --prepare where the Debian packages are, and carry it" >&2; exit 1; }
python="${PYTHON:-python3}"
build="${BUILD:-$root/build-gpu}"
jobs="${JOBS:-$(nproc)}"
prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
  { echo "gpu_check.sh: $python cannot import torch (set PYTHON)" >&2; exit 1; }
"$python" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
"$python" -c 'import torchvision' 2> /dev/null ||
  echo "gpu_check.sh: warning: $python cannot import torchvision: the tests whose parity fixtures it writes will fail"
gpu=$("$python" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")')
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
# NCCL for the collectives on CUDA tensors where this PyTorch has it, with an nccl.h of the very NCCL version it was
# built with (ProcessGroupNCCL's layout depends on it: another version's header compiles and corrupts memory):
# the pip wheel's nvidia-nccl package, else the default include path (a CUDA toolkit's or a system package's).
nccl=()
if "$python" -c 'import sys, torch.distributed as d; sys.exit(0 if d.is_available() and d.is_nccl_available() else 1)' 2> /dev/null; then
  torch_nccl=$("$python" -c 'import torch; v = torch.cuda.nccl.version(); print(v[0] * 10000 + v[1] * 100 + v[2])')
  nccl_include=$("$python" -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2> /dev/null)
  # The version is read off the header's text: preprocessing nccl.h would need the CUDA toolkit's headers first.
  header_nccl() { sed -n 's/^#define NCCL_VERSION_CODE[[:space:]]*\([0-9]*\).*/\1/p' "$1/nccl.h" 2> /dev/null | head -1; }
  for dir in "$nccl_include" ${CUDA_HOME:+"$CUDA_HOME/include"} /usr/local/cuda/include /usr/include; do
    if [[ -n $dir && $(header_nccl "$dir") == "$torch_nccl" ]]; then
      nccl=(-DMUST_WITH_NCCL=ON -DMUST_NCCL_INCLUDE_DIR="$dir")
      break
    fi
  done
  [[ ${#nccl[@]} -gt 0 ]] || echo "gpu_check.sh: no nccl.h of PyTorch's NCCL ($torch_nccl): collectives on CUDA tensors go through Gloo"
fi
# A CUDA build of PyTorch configures only with a CUDA toolkit (its CMake config enables the CUDA language): find nvcc
# where it is usually installed when it is not on the PATH, and say so plainly when there is none.
if [[ -n $("$python" -c 'import torch; print(torch.version.cuda or "")') ]] && ! command -v nvcc > /dev/null; then
  for candidate in ${CUDA_HOME:+"$CUDA_HOME/bin/nvcc"} /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc; do
    if [[ -x $candidate ]]; then
      export CUDACXX="$candidate" PATH="$(dirname "$candidate"):$PATH"
      echo "gpu_check.sh: nvcc from $candidate"
      break
    fi
  done
  command -v nvcc > /dev/null ||
    { echo "gpu_check.sh: PyTorch has CUDA but no nvcc was found (PATH, CUDA_HOME, /usr/local/cuda*): its CMake config needs the CUDA toolkit" >&2; exit 1; }
fi
[[ ${#nccl[@]} -gt 0 ]] && echo "gpu_check.sh: NCCL on (${nccl[*]})"

failed=()
start=$(date +%s)
# Every tool where their libraries are found; else the compute modules alone, saying what was missing.
configure() {
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMUST_THIRD_PARTY="$third_party" \
    -DCMAKE_PREFIX_PATH="$prefix${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}" "${nccl[@]}" "$@" > "$build.configure.log" 2>&1
}
if configure -DMUST_LIBTORCH_ONLY=OFF; then
  echo "gpu_check.sh: configured with every tool"
else
  echo "gpu_check.sh: the tools' libraries are not all here ($(grep -m1 -o 'must: .* not found' "$build.configure.log" || echo "see $build.configure.log")): the compute modules alone"
  configure -DMUST_LIBTORCH_ONLY=ON ||
    { tail -30 "$build.configure.log"; echo "gpu_check.sh: cmake failed (log: $build.configure.log)" >&2; exit 1; }
fi
# Keep going past a target that does not compile against this PyTorch: the others still build and run.
if [[ ${#generator[@]} -gt 0 ]]; then keep_going=(-- -k 0); else keep_going=(-- -k); fi
cmake --build "$build" -j "$jobs" "${keep_going[@]}" > "$build.build.log" 2>&1 || {
  grep -E "^FAILED:|error:" "$build.build.log" | head -40
  failed+=("build (see $build.build.log)")
}
echo "build: $(( $(date +%s) - start )) s"

device_env=(MUST_TEST_REQUIRE_CUDA=1)  # Python sees a GPU: the C++ side must too, not skip
[[ -z $gpu ]] && device_env=(MUST_TEST_DEVICE=cpu)
# NCCL required of the device test only where CMake kept it (it falls back to Gloo when ProcessGroupNCCL.hpp does
# not compile, and says why in the configure log).
if [[ -n $gpu && ${#nccl[@]} -gt 0 ]]; then
  if grep -q '^MUST_NCCL_HEADER_COMPILES:INTERNAL=1' "$build/CMakeCache.txt"; then
    device_env+=(MUST_TEST_EXPECT_NCCL=1)
  else
    echo "gpu_check.sh: NCCL asked for, but ProcessGroupNCCL.hpp did not compile (see $build.configure.log and $build/CMakeFiles/CMakeConfigureLog.yaml or CMakeError.log): Gloo only"
    failed+=("NCCL configure")
  fi
fi
export MUST_PYTHON="$(command -v "$python")"  # parity fixtures are written by this interpreter (torchvision needed)
compute_tests=" core io losses ops structures distributed device models "  # what MUST_LIBTORCH_ONLY builds
for test_binary in "$build"/bin/must_test_*; do
  [[ -x $test_binary ]] || continue
  [[ ${TESTS:-} == all || $compute_tests == *" ${test_binary##*/must_test_} "* ]] || continue
  name=$(basename "$test_binary")
  if env "${device_env[@]}" "$test_binary" --gtest_brief=1 > "$build.$name.log" 2>&1; then
    echo "$name: $(grep -E '^\[  PASSED  \]' "$build.$name.log")$(grep -E 'SKIPPED' "$build.$name.log" | head -1 | sed 's/^/, /')"
  else
    echo "$name: FAILED"
    grep -E "^\[  FAILED  \]|Failure|error" "$build.$name.log" | head -20
    failed+=("$name")
  fi
done

if [[ -x $build/bin/must_bench_model ]]; then
  if [[ -n $gpu ]]; then
    peak="${PEAK_TFLOPS:-}"
    if [[ -z $peak ]]; then  # dense bf16/fp16 tensor-core peaks from the vendors' data sheets (SXM parts)
      case "$gpu" in
        *H200*|*H100*) peak=989 ;;
        *A100*) peak=312 ;;
        *L40S*) peak=362 ;;
        *L4*) peak=121 ;;
        *) peak=0 ;;
      esac
    fi
    "$build/bin/must_bench_model" --which student --device cuda --precision "${PRECISION:-bf16}" \
      --batch "${BATCH:-16}" --size 512 --iters "${ITERS:-10}" --peak-tflops "$peak" || failed+=("must_bench_model")
  else
    "$build/bin/must_bench_model" --which student --device cpu --batch 2 --size 128 --iters 1 || failed+=("must_bench_model")
  fi
fi

if [[ -x $build/bin/must_pseudolabel ]]; then
  smoke_device=cpu
  [[ -n $gpu ]] && smoke_device=cuda
  MUST_BUILD_DIR="$build" "$root/scripts/pipeline_smoke.sh" "$smoke_device" "$build.smoke" || failed+=("pipeline smoke")
fi

echo "gpu_check.sh: $(( $(date +%s) - start )) s in all on ${gpu:-the CPU (no GPU)}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "gpu_check.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "gpu_check.sh: all built, all tests passed"
