#!/usr/bin/env bash
# The graph's batchnorm + activation fusion on the cpu (graph.c "Fusion"), fused against unfused:
# nnbench with NNBENCH_FUSE=0 and =1, alternated REPS times per architecture and mode so that load
# on a shared machine falls on both alike; prints a markdown table of median images/s. Then, on
# the cpu, bench/fusebench.c: the op alone against the two it replaces, on three tensor shapes
# (efficientnet-b0's stem at 128 px batch 8, an expanded block at 32x32, the stem at 256 px
# batch 32), minimum of 15 alternated runs each.
#   bench/fuse.sh [SIZE [BATCH [REPS [DEVICE]]]]     (defaults 128 8 5 cpu)
# Only xception and efficientnet-b0 have a batchnorm followed by the activation that reads it.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-128} batch=${2:-8} reps=${3:-5} device=${4:-cpu}
make -s -j"$(nproc)" ${MARCH+MARCH="$MARCH"} build/bench/nnbench build/bench/fusebench
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "| arch | mode | unfused img/s | fused img/s | fused / unfused |"
echo "|---|---|---:|---:|---:|"
for arch in xception efficientnet-b0; do
    for mode in infer train; do
        steps=5
        [ "$mode" = train ] && steps=3
        u=() f=()
        for _ in $(seq "$reps"); do
            u+=("$(NNBENCH_FUSE=0 build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" 1 "$device" | awk '{print $7}')")
            f+=("$(NNBENCH_FUSE=1 build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" 1 "$device" | awk '{print $7}')")
        done
        mu=$(printf '%s\n' "${u[@]}" | median) mf=$(printf '%s\n' "${f[@]}" | median)
        printf '| %s | %s | %.1f | %.1f | %.3f |\n' "$arch" "$mode" "$mu" "$mf" "$(echo "$mf / $mu" | bc -l)"
    done
done
[ "$device" = cpu ] || exit 0
echo
head=1
for shape in "8 32 4096" "8 144 1024" "32 32 16384"; do
    # shellcheck disable=SC2086
    build/bench/fusebench $shape 15 | tail -n +"$head"
    head=3
done
