#!/usr/bin/env bash
# scripts/third_party_folder.sh DIR
# Makes a folder of the header-only libraries (spdlog, fmt, nlohmann_json, CLI11), gloo's headers and googletest's
# sources from this machine's Debian packages (scripts/setup.sh installs them), for CMake's -DMUST_THIRD_PARTY=DIR:
# what a machine without those packages (a cluster node, a GPU machine with PyTorch alone) builds with, carried there
# as it is. scripts/test.sh builds with such a folder, so that this path is exercised on every run.
#   DIR/include/{spdlog,fmt,nlohmann,CLI}   DIR/gloo-include/gloo   DIR/googletest (CMake sources)
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
for path in /usr/include/{spdlog,fmt,nlohmann,CLI,gloo} /usr/src/googletest/CMakeLists.txt; do
  [[ -e $path ]] || { echo "third_party_folder.sh: $path missing: run scripts/setup.sh --deps-only (Debian packages)" >&2; exit 1; }
done
# Made beside and renamed into place: an interrupted run leaves no half folder under DIR's name.
partial="$dir.partial.$$"
rm -rf "$partial"
mkdir -p "$partial/include" "$partial/gloo-include"
cp -r /usr/include/{spdlog,fmt,nlohmann,CLI} "$partial/include/"
# gloo's headers apart: CMake uses them only where the PyTorch found ships none of its own.
cp -r /usr/include/gloo "$partial/gloo-include/"
cp -r /usr/src/googletest "$partial/googletest"
rm -rf "$dir"
mv "$partial" "$dir"
echo "third_party_folder.sh: $dir ($(du -sh "$dir" | cut -f1))"
