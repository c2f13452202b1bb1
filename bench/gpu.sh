#!/usr/bin/env bash
# GPU training and inference speed of the five study architectures, ours (the cuda backend)
# against PyTorch with cuDNN on the same GPU, in one run (issue 11).
#
#   bench/gpu.sh [--archs a,b,...] [--size S] [--batch N] [--reps R] [--steps-scale F] [--out FILE]
#
# Ours: bench/nnbench.c with DEVICE cuda (the library's graph on the cuda backend, random data in
# memory). Theirs: bench/torchbench.py --device cuda (the PyTorch definitions of
# tests/make-fixtures-models.py in float32, cudnn.benchmark on). Each measurement is its own
# process: warm-up steps, then STEPS timed steps ended by a device synchronisation; ours and
# PyTorch's alternate (ours train, torch train, ours infer, torch infer, R times); medians.
# Then the paper protocol's training time extrapolated from the training rates (see the notes
# written into the output). Refuses to run without a usable CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
cmdline="bench/gpu.sh $*"
archs=meso4,mesoinception4,shallownet,xception,efficientnet-b0
size=256 batch=32 reps=3 scale=1 out=bench/gpu.md warmup=3
while [ $# -gt 0 ]; do
    case "$1" in
    --archs) archs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --steps-scale) scale=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

bench/build-nnbench.sh
make -s -j"$(nproc)" build/libdfs_cuda.so 2>/dev/null || true
if [ ! -e build/libdfs_cuda.so ]; then
    echo "gpu.sh: build/libdfs_cuda.so is missing: the CUDA plugin is built only when nvcc is found" >&2
    exit 1
fi

# no GPU, no benchmark: the reason in one line (nnbench says "no usable CUDA device: ...")
if ! probe=$(build/bench/nnbench meso4 32 1 infer 1 0 cuda 2>&1); then
    echo "gpu.sh: ${probe#nnbench: }" >&2
    exit 1
fi
if ! /usr/bin/python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu.sh: PyTorch (/usr/bin/python3) sees no CUDA device: the comparison needs a CUDA build of torch" >&2
    exit 1
fi

export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results.tsv
started=$(date -u '+%Y-%m-%d %H:%M UTC')

steps_for() {   # timed steps per run at 256x256, batch 32, scaled by --steps-scale and the image area
    local base
    case "$1:$2" in
    meso4:*|mesoinception4:*) base=100 ;;
    shallownet:*) base=40 ;;
    *) base=30 ;;
    esac
    awk -v b="$base" -v f="$scale" -v s="$size" -v n="$batch" \
        'BEGIN { x = int(b * f * (256 * 256 * 32) / (s * s * n) + 0.5); print (x < 1 ? 1 : x) }'
}

measure() {   # who arch mode steps
    local who=$1 arch=$2 mode=$3 steps=$4 line ips
    if [ "$who" = ours ]; then
        line=$(build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" cuda 2>/dev/null)
    else
        line=$(/usr/bin/python3 bench/torchbench.py "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" 4 --device cuda)
    fi
    read -r _ _ _ _ _ _ ips _ <<< "$line"
    printf '%s\t%s\t%s\t%s\n' "$who" "$arch" "$mode" "$ips" >> "$results"
    echo "  $who $arch $mode: $ips img/s" >&2
}

device=$(build/bench/nnbench meso4 32 1 infer 1 0 cuda 2>&1 >/dev/null | sed -n 's/^nnbench: device cuda: //p')
IFS=, read -r -a arch_list <<< "$archs"
for arch in "${arch_list[@]}"; do
    ts=$(steps_for "$arch" train) is=$(steps_for "$arch" infer)
    echo "$arch ${size}x${size} batch $batch: $reps reps, $ts train / $is infer steps per run" >&2
    for ((r = 0; r < reps; r++)); do
        measure ours "$arch" train "$ts"
        measure torch "$arch" train "$ts"
        measure ours "$arch" infer "$is"
        measure torch "$arch" infer "$is"
    done
done

/usr/bin/python3 - "$results" > "$tmp/table.md" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
archs = list(dict.fromkeys(r[1] for r in rows))
def med(who, arch, mode):
    return statistics.median(float(r[3]) for r in rows if r[:3] == [who, arch, mode])
# the paper protocol per architecture: 6 detectors; 2 trained from scratch for 100 epochs over
# 16,000 images, 4 (transfer, merge) for 50 epochs of 62 batches of 64
imgs = 2 * 100 * 16000 + 4 * 50 * 62 * 64
print("| arch | train img/s ours | PyTorch | ours / PyTorch | infer img/s ours | PyTorch | ours / PyTorch "
      "| protocol training hours ours | PyTorch |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
tot = [0.0, 0.0]
for a in archs:
    tr = [med(w, a, "train") for w in ("ours", "torch")]
    inf = [med(w, a, "infer") for w in ("ours", "torch")]
    h = [imgs / t / 3600 for t in tr]
    tot = [tot[0] + h[0], tot[1] + h[1]]
    print(f"| {a} | {tr[0]:.1f} | {tr[1]:.1f} | {tr[0] / tr[1]:.2f} | {inf[0]:.1f} | {inf[1]:.1f} "
          f"| {inf[0] / inf[1]:.2f} | {h[0]:.1f} | {h[1]:.1f} |")
print(f"\nProtocol training time, all {len(archs)} architectures ({6 * len(archs)} detectors): "
      f"ours {tot[0]:.1f} h, PyTorch {tot[1]:.1f} h.")
EOF

{
    echo "# GPU benchmark: dfstudy's cuda backend against PyTorch + cuDNN"
    echo
    echo "- command: \`$cmdline\` ($reps runs each, medians; ours and PyTorch interleaved)"
    echo "- date: $started"
    echo "- device: ${device:-unknown}"
    echo "- PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())'), float32, cudnn.benchmark"
    echo "- input ${size}x${size}x3, batch $batch, random data in device memory; train = forward + loss +" \
         "backward + Adam step; infer = eval-mode forward; $warmup warm-up steps per run"
    echo "- protocol hours: training only, per architecture 2 x 100 epochs x 16,000 images (stage 1) +" \
         "4 x 50 x 62 x 64 images (stages 2, 3) at the measured batch-$batch training rate; validation," \
         "prediction, Grad-CAM and ACE are not counted"
    echo
    cat "$tmp/table.md"
    echo
    echo "Raw runs (who, arch, mode, img/s):"
    echo
    echo '```'
    cat "$results"
    echo '```'
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "gpu.sh: wrote $out" >&2
