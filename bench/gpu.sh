#!/usr/bin/env bash
# GPU training and inference speed of the five study architectures, ours (the cuda backend)
# against PyTorch with cuDNN on the same GPU, in one run (issue 11).
#
#   bench/gpu.sh [--archs a,b,...] [--size S] [--batch N] [--reps R] [--steps-scale F] [--out FILE]
#                [--tf32 0,1] [--torch-fp32] [--cudnn] [--fuse] [--idx32] [--share K] [--prebuilt] [--device D]
#                [--raw FILE]
#
# Ours: bench/nnbench.c with DEVICE cuda (the library's graph on the cuda backend, random data in
# device memory, as PyTorch's). Theirs: bench/torchbench.py --device cuda (the PyTorch definitions of
# tests/make-fixtures-models.py in float32, cudnn.benchmark on). Each measurement is its own
# process: warm-up steps, then STEPS timed steps ended by a device synchronisation; ours and
# PyTorch's alternate (ours train, torch train, ours infer, torch infer, R times); medians.
# Then the paper protocol's training time extrapolated from the training rates (see the notes
# written into the output). Refuses to run without a usable CUDA device. PyTorch is the python3 on
# PATH ($PYTHON to name another): a GPU machine's PyTorch is rarely Debian's.
# --tf32 0,1: ours once per value of DFS_CUDA_TF32 (rows ours, ours-tf32). --prebuilt: use
# build/bench/nnbench and build/libdfs_cuda.so as they are (binaries from bench/gpu-pack.sh).
# --device cpu|cpu-split: the same runs on the cpu (trying the script without a GPU).
# --cudnn: ours also with DFS_CUDNN=1 (rows ours-cudnn: the convolutions through cuDNN where the
#   plugin finds it, DFS_CUDNN_PATH), in float32, and a table of the two paths.
# --fuse: ours also with batchnorm + activation fusion off (rows ours-unfused: DFS_CUDA_FUSE=0,
#   the im2col path, float32; ours is fused, the default), and a table of the two.
# --idx32: ours also with DFS_CUDA_IDX32=1 (rows ours-idx32: depthwise convolutions, im2col,
#   col2im and max pooling through the 32-bit-index kernels of lib/nn/cuda/conv.cu and pool.cu),
#   and a table of the two.
# --torch-fp32: PyTorch also with TF32 off (rows torch-fp32: bench/torchbench.py --tf32 0, float32
#   convolutions as ours; the torch rows keep PyTorch's defaults, TF32 convolutions), and a table
#   of ours against it.
# --share K: also K trainings of ours at once on the one GPU (K nnbench processes started
#   together; rows ours-shareK: the sum of their rates), and a table of that against one
#   training, with the protocol's hours when its trainings run K at a time (study.mk GPU_SLOTS=K).
# --raw FILE: the raw measurements (who, arch, mode, img/s) as TSV too, written as they are made
#   (a run stopped by a time limit leaves what it measured there).
set -euo pipefail
cd "$(dirname "$0")/.."
cmdline="bench/gpu.sh $*"
archs=meso4,mesoinception4,shallownet,xception,efficientnet-b0
size=256 batch=32 reps=3 scale=1 out=bench/gpu-latest.md warmup=3 tf32=0 torch_fp32=0 cudnn=0 fuse=0 idx32=0 share=0 prebuilt=0 device=cuda raw=""
python=${PYTHON:-python3}
while [ $# -gt 0 ]; do
    case "$1" in
    --archs) archs=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --steps-scale) scale=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tf32) tf32=$2; shift 2 ;;
    --cudnn) cudnn=1; shift ;;
    --fuse) fuse=1; shift ;;
    --idx32) idx32=1; shift ;;
    --torch-fp32) torch_fp32=1; shift ;;
    --share) share=$2; shift 2 ;;
    --prebuilt) prebuilt=1; shift ;;
    --device) device=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

case "$share" in 0|[1-9]|[1-9][0-9]) ;; *) echo "gpu.sh: --share: a whole number 1-99, not '$share'" >&2; exit 2 ;; esac

if [ "$prebuilt" = 0 ]; then
    bench/build-nnbench.sh
    make -s -j"$(nproc)" build/libdfs_cuda.so 2>/dev/null || true
fi
if [ ! -x build/bench/nnbench ]; then
    echo "gpu.sh: build/bench/nnbench is missing (bench/build-nnbench.sh)" >&2
    exit 1
fi
if [ "$device" = cuda ] && [ ! -e build/libdfs_cuda.so ]; then
    echo "gpu.sh: build/libdfs_cuda.so is missing: the CUDA plugin is built only when nvcc is found" >&2
    exit 1
fi

# no GPU, no benchmark: the reason in one line (nnbench says "no usable CUDA device: ...")
if ! probe=$(build/bench/nnbench meso4 32 1 infer 1 0 "$device" 2>&1); then
    echo "gpu.sh: ${probe#nnbench: }" >&2
    exit 1
fi
if [ "$device" = cuda ] && ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu.sh: PyTorch ($python) sees no CUDA device: the comparison needs a CUDA build of torch" >&2
    exit 1
fi
torch_device=$([ "$device" = cuda ] && echo cuda || echo cpu)

export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=${raw:-$tmp/results.tsv}
: > "$results"
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

run_one() {   # who arch mode steps: the measurement's line (bench/nnbench.c's or torchbench.py's)
    local who=$1 arch=$2 mode=$3 steps=$4
    case "$who" in
    ours) DFS_CUDNN=0 DFS_CUDA_TF32=0 DFS_CUDA_FUSE=1 build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" "$device" ;;
    ours-cudnn) DFS_CUDNN=1 DFS_CUDA_TF32=0 DFS_CUDA_FUSE=1 build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" "$device" ;;
    ours-tf32) DFS_CUDNN=0 DFS_CUDA_TF32=1 DFS_CUDA_FUSE=1 build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" "$device" ;;
    ours-unfused) DFS_CUDNN=0 DFS_CUDA_TF32=0 DFS_CUDA_FUSE=0 NNBENCH_FUSE=0 build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" "$device" ;;
    ours-idx32) DFS_CUDNN=0 DFS_CUDA_TF32=0 DFS_CUDA_FUSE=1 DFS_CUDA_IDX32=1 build/bench/nnbench "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" "$device" ;;
    torch-fp32) "$python" bench/torchbench.py "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" 4 --device "$torch_device" --tf32 0 ;;
    torch) "$python" bench/torchbench.py "$arch" "$size" "$batch" "$mode" "$steps" "$warmup" 4 --device "$torch_device" ;;
    *) echo "gpu.sh: no measurement named $who" >&2; return 2 ;;
    esac
}

# One measurement into the results. The main table's rows (the first of ours_runs, and torch)
# must run: without them there is no table. A variant that fails (a switch not yet checked on
# this GPU, an API this PyTorch lacks) is a row of nan and a line on stderr with the last line
# the run wrote there, and the rest of the benchmark goes on.
measure() {   # who arch mode steps
    local who=$1 arch=$2 mode=$3 steps=$4 line ips
    if ! line=$(run_one "$who" "$arch" "$mode" "$steps" 2> "$tmp/stderr"); then
        local why; why=$(tail -n 1 "$tmp/stderr")
        if [ "$who" = "${ours_runs[0]}" ] || [ "$who" = torch ]; then
            echo "gpu.sh: $who $arch $mode failed: ${why:-no message}" >&2
            exit 1
        fi
        echo "  $who $arch $mode: FAILED (a row of nan): ${why:-no message}" >&2
        printf '%s\t%s\t%s\tnan\n' "$who" "$arch" "$mode" >> "$results"
        return 0
    fi
    read -r _ _ _ _ _ _ ips _ <<< "$line"
    printf '%s\t%s\t%s\t%s\n' "$who" "$arch" "$mode" "$ips" >> "$results"
    echo "  $who $arch $mode: $ips img/s" >&2
}

gpu_name=$(build/bench/nnbench meso4 32 1 infer 1 0 "$device" 2>&1 >/dev/null | sed -n 's/^nnbench: device cuda: //p')
ours_runs=(ours)
case "$tf32" in 0) ;; 1) ours_runs=(ours-tf32) ;; 0,1|1,0) ours_runs=(ours ours-tf32) ;; *) echo "gpu.sh: --tf32: 0, 1 or 0,1" >&2; exit 2 ;; esac
[ "$cudnn" = 0 ] || ours_runs+=(ours-cudnn)
[ "$fuse" = 0 ] || ours_runs+=(ours-unfused)
[ "$idx32" = 0 ] || ours_runs+=(ours-idx32)
torch_runs=(torch)
[ "$torch_fp32" = 0 ] || torch_runs+=(torch-fp32)
IFS=, read -r -a arch_list <<< "$archs"
for arch in "${arch_list[@]}"; do
    ts=$(steps_for "$arch" train) is=$(steps_for "$arch" infer)
    echo "$arch ${size}x${size} batch $batch: $reps reps, $ts train / $is infer steps per run" >&2
    for ((r = 0; r < reps; r++)); do
        for o in "${ours_runs[@]}"; do measure "$o" "$arch" train "$ts"; done
        for o in "${torch_runs[@]}"; do measure "$o" "$arch" train "$ts"; done
        for o in "${ours_runs[@]}"; do measure "$o" "$arch" infer "$is"; done
        for o in "${torch_runs[@]}"; do measure "$o" "$arch" infer "$is"; done
    done
done

# K trainings at once: each process reports its own rate over its timed steps (after its warm-up,
# by when the others are running too); the sum is the GPU's throughput shared K ways
measure_shared() {   # arch steps
    local arch=$1 steps=$2 i
    local -a pids=()
    for ((i = 0; i < share; i++)); do
        DFS_CUDNN=0 DFS_CUDA_TF32=0 DFS_CUDA_FUSE=1 build/bench/nnbench "$arch" "$size" "$batch" train "$steps" "$warmup" "$device" \
            > "$tmp/share.$i" 2>/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || { echo "gpu.sh: a shared $arch training failed" >&2; exit 1; }; done
    printf 'ours-share%s\t%s\ttrain\t%s\n' "$share" "$arch" \
        "$(cat "$tmp"/share.* | awk '{ s += $7 } END { printf "%.3f", s }')" >> "$results"
    rm -f "$tmp"/share.*
    echo "  ours x$share $arch train: $(tail -1 "$results" | cut -f4) img/s together" >&2
}
if [ "$share" != 0 ]; then
    for arch in "${arch_list[@]}"; do measure_shared "$arch" "$(steps_for "$arch" train)"; done
fi

"$python" - "$results" "${ours_runs[0]}" > "$tmp/table.md" <<'EOF'
import math, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
archs = list(dict.fromkeys(r[1] for r in rows))
ours = sys.argv[2]   # the rows the main table compares: ours, or ours-tf32 alone
def med(who, arch, mode):
    """the median of the runs that measured (a failed run is nan: left out), nan when none did"""
    x = [float(r[3]) for r in rows if r[:3] == [who, arch, mode]]
    x = [v for v in x if math.isfinite(v)]
    return statistics.median(x) if x else math.nan
# the paper protocol per architecture: 6 detectors; 2 trained from scratch for 100 epochs over
# 16,000 images, 4 (transfer, merge) for 50 epochs of 62 batches of 64
imgs = 2 * 100 * 16000 + 4 * 50 * 62 * 64
print("| arch | train img/s ours | PyTorch | ours / PyTorch | infer img/s ours | PyTorch | ours / PyTorch "
      "| protocol training hours ours | PyTorch |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
tot = [0.0, 0.0]
for a in archs:
    tr = [med(w, a, "train") for w in (ours, "torch")]
    inf = [med(w, a, "infer") for w in (ours, "torch")]
    h = [imgs / t / 3600 for t in tr]
    tot = [tot[0] + h[0], tot[1] + h[1]]
    print(f"| {a} | {tr[0]:.1f} | {tr[1]:.1f} | {tr[0] / tr[1]:.2f} | {inf[0]:.1f} | {inf[1]:.1f} "
          f"| {inf[0] / inf[1]:.2f} | {h[0]:.1f} | {h[1]:.1f} |")
print(f"\nProtocol training time, all {len(archs)} architectures ({6 * len(archs)} detectors): "
      f"ours {tot[0]:.1f} h, PyTorch {tot[1]:.1f} h.")
def variant_table(what, variant, base_name, variant_name):
    """ours with one switch against ours without it: the variant's rows over the base rows"""
    if not any(r[0] == "ours" for r in rows):
        print(f"\nOurs with {what}: no table (no float32 ours rows to compare with: --tf32 1)")
        return
    print(f"\nOurs with {what}:\n")
    print(f"| arch | train img/s {base_name} | {variant_name} | {variant_name} / {base_name} "
          f"| infer img/s {base_name} | {variant_name} | {variant_name} / {base_name} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for a in archs:
        t = [med(w, a, "train") for w in ("ours", variant)]
        i = [med(w, a, "infer") for w in ("ours", variant)]
        print(f"| {a} | {t[0]:.1f} | {t[1]:.1f} | {t[1] / t[0]:.2f} | {i[0]:.1f} | {i[1]:.1f} | {i[1] / i[0]:.2f} |")
if ours == "ours" and any(r[0] == "ours-tf32" for r in rows):
    variant_table("DFS_CUDA_TF32=1 (cuBLAS TF32 tensor-op math) against ours in float32", "ours-tf32",
                  "float32", "TF32")
if any(r[0] == "ours-cudnn" for r in rows):
    variant_table("DFS_CUDNN=1 (cuDNN where found) against im2col + cuBLAS, float32", "ours-cudnn",
                  "im2col", "cuDNN")
if any(r[0] == "ours-unfused" for r in rows):
    variant_table("DFS_CUDA_FUSE=0 (batchnorm and activation as two ops) against fused, the default, im2col, float32",
                  "ours-unfused", "fused", "unfused")
shared = sorted({r[0] for r in rows if r[0].startswith("ours-share")})
for who in shared:
    k = who[len("ours-share"):]
    print(f"\n{k} trainings of ours at once on the one GPU (the sum of their rates) against one, and the "
          f"protocol's training time with its trainings run {k} at a time:\n")
    print(f"| arch | train img/s one | {k} at once | ratio | protocol hours one | {k} at once |")
    print("|---|---:|---:|---:|---:|---:|")
    tot = [0.0, 0.0]
    for a in archs:
        t = [med(w, a, "train") for w in (ours, who)]
        h = [imgs / x / 3600 for x in t]
        tot = [tot[0] + h[0], tot[1] + h[1]]
        print(f"| {a} | {t[0]:.1f} | {t[1]:.1f} | {t[1] / t[0]:.2f} | {h[0]:.1f} | {h[1]:.1f} |")
    print(f"\nAll {len(archs)} architectures: {tot[0]:.1f} h one at a time, {tot[1]:.1f} h {k} at a time.")
if any(r[0] == "ours-idx32" for r in rows):
    variant_table("DFS_CUDA_IDX32=1 (depthwise, im2col, col2im and max pooling kernels with 32-bit indices) "
                  "against the default ones, im2col, float32", "ours-idx32", "default", "idx32")
if any(r[0] == "torch-fp32" for r in rows):
    print(f"\nOurs ({ours}) against PyTorch with TF32 off (bench/torchbench.py --tf32 0: float32 convolutions and "
          "matrix products, as ours), and PyTorch's own TF32 default against its float32:\n")
    print("| arch | train img/s ours | PyTorch float32 | ours / PyTorch float32 | PyTorch TF32 / float32 "
          "| infer img/s ours | PyTorch float32 | ours / PyTorch float32 | PyTorch TF32 / float32 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for a in archs:
        cells = []
        for mode in ("train", "infer"):
            o, f, t = (med(w, a, mode) for w in (ours, "torch-fp32", "torch"))
            cells.append(f"{o:.1f} | {f:.1f} | {o / f:.2f} | {t / f:.2f}")
        print(f"| {a} | {cells[0]} | {cells[1]} |")
EOF

{
    echo "# GPU benchmark: dfstudy's cuda backend against PyTorch + cuDNN"
    echo
    echo "- command: \`$cmdline\` ($reps runs each, medians; ours and PyTorch interleaved)"
    echo "- date: $started"
    echo "- device: ${gpu_name:-$device}"
    echo "- PyTorch ($python) $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())'), float32 tensors, cudnn.benchmark; PyTorch rows with its default math (TF32 convolutions on Ampere and later)$([ "$torch_fp32" = 0 ] || echo ", torch-fp32 rows with TF32 off")"
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
