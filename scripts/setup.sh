#!/usr/bin/env bash
# Installs every system dependency from Debian packages, then builds Release into build/.
# Idempotent: packages already present are not fetched again; `apt-get update` runs at most once.
# Usage: scripts/setup.sh [--deps-only]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

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
  # test-only: parity fixtures are generated with torchvision at test time
  python3-torch python3-torchvision python3-numpy python3-pil
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { echo "setup.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's alternatives pick the BLAS LibTorch links against; make sure it is OpenBLAS.
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
  target=$(update-alternatives --list "$alt" 2>/dev/null | grep -m1 openblas-openmp || true)
  [[ -n $target ]] && update-alternatives --set "$alt" "$target" >/dev/null
done

[[ ${1:-} == --deps-only ]] && exit 0

cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build" -j "${MUST_BUILD_JOBS:-2}"
