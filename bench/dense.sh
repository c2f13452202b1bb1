#!/usr/bin/env bash
# The dense layer's fixed-order kernels (lib/nn/dense.c) against cblas_sgemm, in CPU seconds, on the
# study's largest dense layer (ShallowNet at 256: 115200 -> 1024, batch 32), one thread.
#   bench/dense.sh     (results: bench/numerics.md)
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc)" build/bench/densebench
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
OMP_NUM_THREADS=1 build/bench/densebench 32 115200 1024 3
