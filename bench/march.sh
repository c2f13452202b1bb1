#!/usr/bin/env bash
# What a portable build costs: training and inference speed of one architecture with the library
# (and bench/nnbench.c) built for each -march target given, in one run.
#
#   bench/march.sh [--arch A] [--size S] [--batch N] [--steps K] [--reps R] [--threads T]
#                  [--out FILE] [TARGET...]
#
# TARGET: a -march value (default: native x86-64-v3 x86-64-v2); native is the normal build/,
# another target T builds into build-T/. Each measurement is its own process (one warm-up step,
# K timed steps); the targets alternate within each repetition and the table gives medians.
# OpenBLAS picks its kernels at run time whatever the target, so the differences are the
# library's own code: the hand-vectorised kernels' width (lib/nn/simd.h) and what the compiler
# vectorises (FMA, exp).
set -euo pipefail
cd "$(dirname "$0")/.."
cmdline="bench/march.sh $*"
arch=meso4 size=256 batch=32 steps=4 reps=3 threads=2 out=bench/march.md
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --arch) arch=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "march.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(native x86-64-v3 x86-64-v2)

build_of() { if [ "$1" = native ]; then echo build; else echo "build-$1"; fi; }
for t in "${targets[@]}"; do
    BUILD=$(build_of "$t") MARCH=-march=$t bench/build-nnbench.sh
done

export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for ((r = 0; r < reps; r++)); do
    for mode in train infer; do
        for t in "${targets[@]}"; do
            line=$("$(build_of "$t")/bench/nnbench" "$arch" "$size" "$batch" "$mode" "$steps" 1)
            read -r _ _ _ _ _ _ ips _ <<< "$line"
            printf '%s\t%s\t%s\n' "$t" "$mode" "$ips" >> "$tmp"
            echo "  $t $mode: $ips img/s" >&2
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "# Speed by build target (-march)"
    echo
    echo "- command: \`$cmdline\` ($reps runs each, medians; targets interleaved)"
    echo "- date: $started"
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores available"
    echo "- load average (1/5/15 min) at start: $load_start; at end: $load_end" \
         "(a shared machine: numbers are indicative unless the load was ~0)"
    echo "- $arch, input ${size}x${size}x3, batch $batch, $steps timed steps per run," \
         "OMP_NUM_THREADS=$threads; train = forward + loss + backward + Adam step, infer = eval-mode forward"
    echo
    awk -F'\t' -v first="${targets[0]}" '
        { v[$1 "\t" $2] = v[$1 "\t" $2] " " $3; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
        function median(s,   a, k, i, j, t) {
            k = split(s, a, " ")
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
        }
        END {
            print "| -march | train img/s | vs " first " | infer img/s | vs " first " |"
            print "|---|---:|---:|---:|---:|"
            bt = median(v[first "\ttrain"]); bi = median(v[first "\tinfer"])
            for (i = 0; i < n; i++) {
                t = median(v[order[i] "\ttrain"]); f = median(v[order[i] "\tinfer"])
                printf "| %s | %.1f | %.2f | %.1f | %.2f |\n", order[i], t, t / bt, f, f / bi
            }
        }' "$tmp"
    echo
    echo "Raw runs (target, mode, img/s):"
    echo
    echo '```'
    cat "$tmp"
    echo '```'
} > "$out"
cat "$out"
