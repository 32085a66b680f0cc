#!/usr/bin/env bash
# Makes sure there is a build, and builds it: scripts/setup.sh [--deps-only] [--install]
#
# The build is MUST_BUILD_DIR (default build/). One already configured is taken as it is (any PyTorch, any
# dependencies: docs/building.md) and only brought up to date. A new one is configured here for Debian 12: LibTorch
# and the compiled libraries from Debian's packages, the header-only ones from a folder made from those packages
# (scripts/third_party_folder.sh), the path a machine without them takes, so every build exercises it.
#
# Debian packages are installed only where this script is root, or asked to with --install: a user without root,
# on a cluster with its own PyTorch, runs every script against an existing build. --deps-only: packages only.
# Idempotent: packages already present are not fetched again; `apt-get update` runs at most once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MUST_BUILD_DIR:-$root/build}"
deps_only=0 install=0
for arg in "$@"; do
  case "$arg" in
    --deps-only) deps_only=1 ;;
    --install) install=1 ;;
    *) echo "usage: $0 [--deps-only] [--install]" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config
  # compute: LibTorch 1.13 (CPU); its c10d headers need gloo. OpenBLAS: the reference BLAS is ~40x slower.
  libtorch-dev libgloo-dev libopenblas0-openmp
  # image stack (only the pieces we use, not the huge libopencv-dev)
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  # support libraries
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libgtest-dev zlib1g-dev
  # dataset readers: JPEG with DCT scaling, palette PNG indices, VOC XML, NYU's HDF5 .mat
  libturbojpeg0-dev libpng-dev libtinyxml2-dev libhdf5-dev
  # real data for the Fashion-MNIST teacher (IDX gz files under /usr/share/datasets/fashion-mnist/)
  dataset-fashion-mnist
  # test-only: parity fixtures are generated with torchvision at test time; torchrun launches the tools in tests
  python3-torch python3-torchvision python3-numpy python3-pil
)

missing=()
if command -v dpkg-query > /dev/null; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 || $install == 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "setup.sh: --install needs root to install: ${missing[*]}" >&2; exit 1; }
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup.sh: not root, so not installing Debian's ${missing[*]} (CMake names what the build lacks)" >&2
  fi
fi

# Debian's alternatives pick the BLAS LibTorch links against; make sure it is OpenBLAS (root only: a shared setting).
if [[ $(id -u) == 0 ]] && command -v update-alternatives > /dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    target=$(update-alternatives --list "$alt" 2>/dev/null | grep -m1 openblas-openmp || true)
    [[ -n $target ]] && update-alternatives --set "$alt" "$target" >/dev/null
  done
fi

[[ $deps_only == 1 ]] && exit 0

if [[ ! -f $build/CMakeCache.txt ]]; then
  "$root/scripts/third_party_folder.sh" "$build/third_party"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMUST_THIRD_PARTY="$build/third_party"
fi
cmake --build "$build" -j "${MUST_BUILD_JOBS:-2}"
