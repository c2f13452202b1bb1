#!/usr/bin/env bash
# CPU training and inference speed of the five study architectures, ours against Debian's
# PyTorch (python3-torch) on the same machine, in one run (issue 12).
#
#   bench/cpu.sh [--archs a,b,...] [--size S] [--batch N] [--reps R] [--threads T] [--steps-scale F]
#                [--base REV] [--out FILE]
#
# --base REV: instead of PyTorch, measure our own nnbench as built at git revision REV (in a
# temporary worktree, same flags), interleaved with today's in the same way: the before and after
# of a change that must not move the figures (a restructuring), on the same machine and load.
#
# Ours: bench/nnbench.c (built here by `make build/bench/nnbench`), which times the library's
# graph steps on random data in memory (bin/train and bin/predict run the same
# calls plus data loading). Theirs: bench/torchbench.py, the PyTorch definitions of
# tests/make-fixtures-models.py in float32. Every measurement is its own process, one warm-up
# step then STEPS timed steps; ours and PyTorch's alternate (ours train, torch train, ours infer,
# torch infer, repeated R times) and the table gives medians. Peak memory is the max RSS of the
# process (/usr/bin/time -v), PyTorch's including the interpreter and libtorch (stated in the output).
# Threads: OMP_NUM_THREADS=T for both (OpenBLAS/OpenMP, oneDNN) and torch.set_num_threads(T);
# OMP_WAIT_POLICY=passive so idle threads sleep on a shared machine.
# GFLOP/s: forward FLOPs counted from our graph (2 x multiply-accumulates of conv and dense layers,
# nothing else) times images/s; training counted as 3 x forward.
set -euo pipefail
cd "$(dirname "$0")/.."
cmdline="bench/cpu.sh $*"
archs=meso4,mesoinception4,shallownet,xception,efficientnet-b0
size=256 batch=32 reps=5 threads=2 scale=1 out=bench/cpu.md base=
while [ $# -gt 0 ]; do
    case "$1" in
    --archs) archs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps-scale) scale=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cpu.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

if [ -n "$base" ]; then
    rev=$(git rev-parse --verify --quiet "$base^{commit}") || { echo "cpu.sh: --base: '$base' is not a revision" >&2; exit 2; }
fi
bench/build-nnbench.sh

export OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
other=torch other_name="PyTorch"
if [ -n "$base" ]; then
    other=base other_name="ours at $(git rev-parse --short "$rev")"
    trap 'git worktree remove --force "$tmp/base" 2>/dev/null; rm -rf "$tmp"' EXIT
    git worktree add --detach -q "$tmp/base" "$rev"
    echo "cpu.sh: building nnbench at $(git rev-parse --short "$rev") in $tmp/base" >&2
    (cd "$tmp/base" && make -s -j"$(nproc)" BUILD=build ${MARCH+MARCH="$MARCH"} build/bench/nnbench)
fi
results=$tmp/results.tsv
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

steps_for() {   # timed steps per run at 256x256, batch 32, scaled by --steps-scale and the image area
    local base
    case "$1:$2" in
    meso4:infer|mesoinception4:infer) base=8 ;;
    meso4:train|mesoinception4:train) base=4 ;;
    shallownet:infer) base=4 ;;
    shallownet:train) base=2 ;;
    *:infer) base=2 ;;
    *) base=1 ;;
    esac
    awk -v b="$base" -v f="$scale" -v s="$size" -v n="$batch" \
        'BEGIN { x = int(b * f * (256 * 256 * 32) / (s * s * n) + 0.5); print (x < 1 ? 1 : x) }'
}

measure() {   # who arch mode steps
    local who=$1 arch=$2 mode=$3 steps=$4 line
    if [ "$who" = ours ] || [ "$who" = base ]; then
        local prog=${BUILD:-build}/bench/nnbench
        [ "$who" = base ] && prog=$tmp/base/build/bench/nnbench
        /usr/bin/time -v -o "$tmp/time" "$prog" "$arch" "$size" "$batch" "$mode" "$steps" 1 > "$tmp/line"
    else
        /usr/bin/time -v -o "$tmp/time" /usr/bin/python3 bench/torchbench.py "$arch" "$size" "$batch" "$mode" \
            "$steps" 1 "$threads" > "$tmp/line"
    fi
    line=$(cat "$tmp/line")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
    # who arch mode img/s gflop_per_img(ours only) rss_kb
    read -r _ _ _ _ _ _ ips gf <<< "$line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$who" "$arch" "$mode" "$ips" "${gf:-}" "$rss" >> "$results"
    echo "  $who $arch $mode: $ips img/s, max RSS $((rss / 1024)) MiB" >&2
}

IFS=, read -r -a arch_list <<< "$archs"
for arch in "${arch_list[@]}"; do
    ts=$(steps_for "$arch" train) is=$(steps_for "$arch" infer)
    echo "$arch ${size}x${size} batch $batch: $reps reps, $ts train / $is infer steps per run" >&2
    for ((r = 0; r < reps; r++)); do
        measure ours "$arch" train "$ts"
        measure "$other" "$arch" train "$ts"
        measure ours "$arch" infer "$is"
        measure "$other" "$arch" infer "$is"
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$other" = torch ]; then
    # what PyTorch's process holds before any model exists
    /usr/bin/time -v -o "$tmp/time" /usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests"); import torch; __import__("make-fixtures-models")'
    torch_base=$(awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' "$tmp/time")
fi

/usr/bin/python3 - "$results" "$other" > "$tmp/table.md" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
other = sys.argv[2]
archs = list(dict.fromkeys(r[1] for r in rows))
def med(who, arch, mode, col):
    return statistics.median(float(r[col]) for r in rows if r[:3] == [who, arch, mode])
print(f"| arch | fwd GFLOP/img | train img/s ours | {other} | ratio | infer img/s ours | {other} | ratio "
      f"| train GFLOP/s ours / {other} | infer GFLOP/s ours / {other} | train peak MiB ours / {other} "
      f"| infer peak MiB ours / {other} |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for a in archs:
    gf = med("ours", a, "train", 4)
    tr = [med(w, a, "train", 3) for w in ("ours", other)]
    inf = [med(w, a, "infer", 3) for w in ("ours", other)]
    mt = [med(w, a, "train", 5) / 1024 for w in ("ours", other)]
    mi = [med(w, a, "infer", 5) / 1024 for w in ("ours", other)]
    print(f"| {a} | {gf:.3f} | {tr[0]:.1f} | {tr[1]:.1f} | {tr[0] / tr[1]:.2f} | {inf[0]:.1f} | {inf[1]:.1f} "
          f"| {inf[0] / inf[1]:.2f} | {3 * gf * tr[0]:.1f} / {3 * gf * tr[1]:.1f} "
          f"| {gf * inf[0]:.1f} / {gf * inf[1]:.1f} | {mt[0]:.0f} / {mt[1]:.0f} | {mi[0]:.0f} / {mi[1]:.0f} |")
EOF

{
    echo "# CPU benchmark: dfstudy against $other_name"
    echo
    echo "- command: \`$cmdline\` ($reps runs each, medians; ours and $other_name interleaved)"
    echo "- date: $started, commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lib bench Makefile || echo ' with uncommitted changes')"
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores available" \
         "($(lscpu | sed -n 's/^CPU(s): *//p') CPUs online), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
    echo "- load average (1/5/15 min) at start: $load_start; at end: $load_end" \
         "(a shared machine: numbers are indicative unless the load was ~0)"
    echo "- input ${size}x${size}x3, batch $batch, random data; train = forward + loss + backward + Adam step;" \
         "infer = eval-mode forward"
    echo "- GFLOP: forward conv + dense FLOPs (2 x MACs) from the graph; training counted as 3 x forward."
    if [ "$other" = torch ]; then
        echo "- threads: OMP_NUM_THREADS=$threads, torch.set_num_threads($threads), OMP_WAIT_POLICY=passive"
        echo "- PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (Debian python3-torch)," \
             "float32; ours: bench/nnbench.c on build/libdfstudy.a"
        echo "  Peak memory: max RSS of the whole process (PyTorch's includes the interpreter and"
        echo "  libraries: $torch_base MiB for \`import torch\` and the model module alone)."
    else
        echo "- threads: OMP_NUM_THREADS=$threads, OMP_WAIT_POLICY=passive; both sides bench/nnbench.c on their" \
             "revision's libdfstudy.a, built with the same Makefile flags; peak memory is the max RSS."
    fi
    echo
    cat "$tmp/table.md"
    echo
    echo "Raw runs (who, arch, mode, img/s, fwd GFLOP/img, max RSS KiB):"
    echo
    echo '```'
    cat "$results"
    echo '```'
} > "$out"
cat "$out"
