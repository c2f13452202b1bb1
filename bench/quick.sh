#!/usr/bin/env bash
# The quick benchmark set that `make bench` runs after building bench/*.c: a smoke-sized look at
# speed in about half a minute, printed as markdown on stdout (nothing written; the dated,
# recorded measurements are bench/cpu.sh's and the other scripts', see bench/*.md).
#   - nnbench: each of the five architectures at 64x64, batch 8, inference and a training step,
#     1 warm-up and 3 timed steps, OMP_NUM_THREADS threads (default 2), on the cpu;
#   - convbench 1: the direct convolution kernels' per-core GFLOP/s on the study's few-filter
#     layers, one thread.
#   BUILD=build bench/quick.sh     (the programs: make bench-build)
# Images/s at this size say little about 256x256 (bench/cpu.sh), and a loaded machine moves
# them; the load average is printed beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
b=${BUILD:-build}/bench
for p in nnbench convbench; do
    [ -x "$b/$p" ] || { echo "quick.sh: $b/$p is missing (make BUILD=${BUILD:-build} bench-build)" >&2; exit 2; }
done
threads=${OMP_NUM_THREADS:-2}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
echo "bench/quick.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
     "$threads threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| arch | size | batch | mode | img/s | forward GFLOP/img |"
echo "|---|---:|---:|---|---:|---:|"
for arch in meso4 mesoinception4 shallownet xception efficientnet-b0; do
    for mode in infer train; do
        OMP_NUM_THREADS=$threads "$b/nnbench" "$arch" 64 8 "$mode" 3 1 |
            awk '{ printf "| %s | %s | %s | %s | %.1f | %.4f |\n", $1, $2, $3, $4, $7, $8 }'
    done
done
echo
echo "convbench (one thread):"
OMP_NUM_THREADS=1 "$b/convbench" 1
