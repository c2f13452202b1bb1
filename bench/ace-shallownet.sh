#!/usr/bin/env bash
# CPU time of `ace` with the study's defaults on ShallowNet at 256x256 (randomly initialised:
# the cost does not depend on the weights), for --batches 1 and 2, on one thread; the difference
# is the cost of one batch (a phase-A forward, a phase-B forward and 1024 x 4 interventions),
# from which the full setting (30 batches, 5 datasets) is extrapolated.
#   bench/ace-shallownet.sh          (run from anywhere after `make`; needs ~8 GB of memory)
# User CPU seconds are reported, not wall time: on a shared machine wall time mostly measures
# the other jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/tests/test_cam --make-ckpt shallownet 256 "$tmp/sn.ckpt"
bin/synth --role celeb --split test --size 256 --videos 16 --frames 16 > "$tmp/d.dft"   # 256 images
cpu() {   # user seconds of ace with --batches $1
    /usr/bin/time -f %U env OMP_NUM_THREADS=1 bin/ace -m "$tmp/sn.ckpt" --batches "$1" "$tmp/d.dft" \
        2>&1 >/dev/null | tail -1
}
t1=$(cpu 1)
t2=$(cpu 2)
per=$(echo "$t2 - $t1" | bc -l)
fixed=$(echo "$t1 - $per" | bc -l)
full=$(echo "$fixed + 30 * $per" | bc -l)
printf 'batches=1: %s s, batches=2: %s s (user, 1 thread)\n' "$t1" "$t2"
printf 'per batch: %.2f s; fixed: %.2f s; 30 batches: %.0f s per dataset; 5 datasets: %.1f min\n' \
    "$per" "$fixed" "$full" "$(echo "5 * $full / 60" | bc -l)"
