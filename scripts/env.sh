# Sourced by the scripts: settings for the machines this project runs on.
# OpenBLAS 0.3.21 (Debian 12) does not recognise some virtual machines' CPU model and falls back to its Prescott
# (SSE3) kernels: on the development VM a 1000 x 12544 x 1024 sgemm ran at 59 GFLOP/s, and at 200 with the
# SkylakeX kernels. Name the core from the CPU's flags unless the caller chose one. (LibTorch's convolutions go
# through oneDNN and are not affected; linear layers, such as the detector's box head, are.)
if [[ -z "${OPENBLAS_CORETYPE:-}" ]]; then
  if grep -qw avx512f /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
