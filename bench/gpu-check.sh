#!/usr/bin/env bash
# The whole GPU check of the cuda backend in one go (about 5 minutes on an H200; every step has
# its own time limit, so it ends within 10):
#
#   bench/gpu-check.sh [--from DIR] [--device D] [--quick] [--tar-only] [OUTDIR]
#
#   1. DFS_REQUIRE_CUDA=1 build/tests/test_cuda_ops and build/tests/test_backend_graph (the
#      im2col path, then with DFS_CUDNN=1 where cuDNN was found, then DFS_CUDA_TF32=1, whose
#      deviations are recorded, not held to float32's tolerances; then DFS_CUDA_FUSE=0, batchnorm and
#      activation unfused, held to the same tolerances; every run also holds fused against
#      unfused to equal bits; then both tests with DFS_CUDA_IDX32=1, the depthwise, im2col, col2im
#      and max pooling kernels with 32-bit indices, held to the same tolerances; every
#      test_cuda_ops run also holds those kernels to the default ones' bits). cuDNN: DFS_CUDNN_PATH as given,
#      else the folder of libcudnn.so.9 in the site-packages of the `python3` on PATH (PyTorch's
#      nvidia wheels), and then test_cuda_ops must use it
#   2. bench/gpu.sh: ours (nnbench) against PyTorch (bench/torchbench.py, the `python3` on PATH)
#      at 256x256 batch 32, train and infer, five architectures, ours with DFS_CUDA_TF32=0 and 1,
#      and with DFS_CUDNN=1 where cuDNN was found, with DFS_CUDA_FUSE=0 and with DFS_CUDA_IDX32=1,
#      K trainings at once (--share), and PyTorch also with TF32 off (--torch-fp32)
#   3. the train/predict/cam/ace tool tests (tests/60-train.bats, 62-device, 55-cam, 65-ace) with
#      DFS_DEVICE=D, the tools' default device; with bats, or bats carried in DIR/bats; without
#      either they are skipped with a line
#   4. compute-sanitizer --tool memcheck on the two unit tests, where compute-sanitizer exists
#   5. per-kernel GPU time of one training step of each architecture: ncu where it exists, else
#      skipped with a line
# Every log goes to OUTDIR/logs (OUTDIR: the argument, else $OUT when set, else gpu-check-out),
# then OUTDIR/summary.md (one row per step, last) and OUTDIR/gpu-check-logs.tar.gz (logs and
# summary in one file, for a caller that can take few files back).
#
# --from DIR: binaries built elsewhere by bench/gpu-pack.sh (a GPU machine often lacks the dev
#   packages and runtime libraries: DIR/lib goes on LD_LIBRARY_PATH). Without it, the checkout's
#   own build/ and bin/ are used (bench/build-nnbench.sh builds nnbench if it is missing).
# --device D: cuda (default); cpu or cpu-split run the same steps without a GPU (a smoke test of
#   this script: no sanitizer, no profiler, the benchmark as --quick).
# --quick: the benchmark at 32x32 batch 2, one step per run (for trying the script).
# --tar-only: OUTDIR keeps only summary.md and the tar.gz (a device tool that returns few files).
#
# The steps share one time budget (GPU_CHECK_BUDGET seconds, default 540): a step gets what is
# left at most, and a step that would start with under 15 s left is skipped with a line.
# GPU_CHECK_BATS: the tool test files of step 3 (default "60-train 62-device 55-cam 65-ace").
# GPU_CHECK_TF32: the DFS_CUDA_TF32 values the benchmark runs ours with (default "0,1").
# GPU_CHECK_SHARE: K of the benchmark's --share K, trainings at once on the GPU (default 4; 0: none).
# GPU_CHECK_MEMCHECK: the unit tests step 4 runs under memcheck (default "test_cuda_ops
#   test_backend_graph"; the second needs more than 90 s there).
# Exit status: 0 when every step ran and passed; 1 when a step failed or timed out (summary.md
# says which); 2 when something needed is missing (named in one line); 3 with --device cuda and no
# usable CUDA device: the dry run, one line saying why, nothing run.
set -uo pipefail
caller=$(pwd)
from="" device=cuda quick=0 out="" tar_only=0
while [ $# -gt 0 ]; do
    case "$1" in
    --from) from=${2:?}; shift 2 ;;
    --device) device=${2:?}; shift 2 ;;
    --quick) quick=1; shift ;;
    --tar-only) tar_only=1; shift ;;
    -h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu-check.sh: unknown option $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
    esac
done
out=${out:-${OUT:-gpu-check-out}}
# paths given are the caller's; the steps run in the repository root
case "$out" in /*) ;; *) out=$caller/$out ;; esac
case "$from" in /*|"") ;; *) from=$caller/$from ;; esac
cd "$(dirname "$0")/.." || exit 2
case "$device" in cuda|cpu|cpu-split) ;; *) echo "gpu-check.sh: --device: cuda, cpu or cpu-split, not '$device'" >&2; exit 2 ;; esac
tools="synth pack train predict cam ace score ssim"
tests="test_cuda_ops test_backend_graph test_cam"

# ---- the binaries: from a pack, or this checkout's build ----
if [ -n "$from" ]; then
    [ -d "$from" ] || { echo "gpu-check.sh: --from: no directory $from" >&2; exit 2; }
    from=$(cd "$from" && pwd)
    [ -f "$from/MANIFEST" ] || { echo "gpu-check.sh: $from is not a pack of bench/gpu-pack.sh (no MANIFEST)" >&2; exit 2; }
    export LD_LIBRARY_PATH="$from/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # the tests call $ROOT/bin/TOOL and $ROOT/build/tests/TEST; the tools find the CUDA plugin at
    # ../build/ from their real path, so links into the pack are enough
    if [ ! -e build ] && [ -d "$from/build" ]; then ln -s "$from/build" build; fi
    for t in "$from"/bin/*; do [ -e "$t" ] && [ ! -e "bin/${t##*/}" ] && ln -s "$t" "bin/${t##*/}"; done
    if [ -x "$from/bats/bin/bats" ] && ! command -v bats > /dev/null; then
        PATH="$from/bats/bin:$PATH"
        export DFS_BATS_LIB="$from/bats/lib/bats"
    fi
fi
# ---- the dry run: no GPU, one line (the tools' own reason, e.g. no driver) ----
if [ "$device" = cuda ] && [ -x bin/predict ]; then
    probe=$(bin/predict --device cuda -m /nonexistent.ckpt -o /dev/null 2>&1 < /dev/null)
    case "$probe" in
    "predict: no usable CUDA device: "*)
        echo "gpu-check.sh: ${probe#predict: } (nothing run)" >&2
        exit 3 ;;
    esac
fi
if [ -z "$from" ] && [ ! -x build/bench/nnbench ] && [ -f build/libdfstudy.a ]; then
    bench/build-nnbench.sh > /dev/null 2>&1 || true
fi
missing=""
for f in $tools; do [ -x "bin/$f" ] || missing="$missing bin/$f"; done
for f in $tests; do [ -x "build/tests/$f" ] || missing="$missing build/tests/$f"; done
[ -x build/bench/nnbench ] || missing="$missing build/bench/nnbench"
[ "$device" != cuda ] || [ -f build/libdfs_cuda.so ] || missing="$missing build/libdfs_cuda.so"
if [ -n "$missing" ]; then
    echo "gpu-check.sh: missing:$missing (build with make and bench/build-nnbench.sh, or pack with bench/gpu-pack.sh and pass --from)" >&2
    exit 2
fi
# a binary that cannot load its libraries names them: ldd's "not found" lines, in one line
notfound=$(for f in bin/train bin/synth build/tests/test_cuda_ops build/bench/nnbench; do ldd "$f" 2>/dev/null; done |
           awk '/not found/ { print $1 }' | sort -u | tr '\n' ' ')
if [ -n "$notfound" ]; then
    echo "gpu-check.sh: shared libraries not found: ${notfound% } (pack them with bench/gpu-pack.sh and pass --from)" >&2
    exit 2
fi

mkdir -p "$out/logs" || exit 2
logs=$out/logs
rows=$logs/.rows
: > "$rows"
t_start=$(date +%s)
export OMP_WAIT_POLICY=passive
python=$(command -v python3 || true)

# step NAME LIMIT_S CMD...: runs CMD with its output in logs/NAME.log under a time limit and adds a
# summary row (name, status, seconds, the note that note_NAME prints from the log, if any)
budget=${GPU_CHECK_BUDGET:-540}
step() {
    local name=$1 limit=$2 t0 rc status note left
    shift 2
    t0=$(date +%s)
    left=$((budget - (t0 - t_start)))
    if [ "$left" -lt 15 ]; then
        printf '%s|skipped|0|out of time (GPU_CHECK_BUDGET %s s)\n' "$name" "$budget" >> "$rows"
        return
    fi
    [ "$limit" -le "$left" ] || limit=$left
    echo "== $name (limit ${limit}s): $*" >&2
    timeout -k 10 "$limit" "$@" > "$logs/$name.log" 2>&1
    rc=$?
    case $rc in 0) status=pass ;; 124|137) status="TIMEOUT (${limit}s)" ;; *) status="FAIL (rc $rc)" ;; esac
    note=$(note "$name" "$logs/$name.log" | tr '\n|' '; ' | cut -c1-300)
    printf '%s|%s|%s|%s\n' "$name" "$status" "$(($(date +%s) - t0))" "$note" >> "$rows"
    echo "   $status: $note" >&2
}

# the one-line note of a step, read from its log
note() {
    local name=$1 log=$2
    case "$name" in
    test_*|memcheck-*)
        grep -c '^ok ' "$log" | sed 's/$/ ok/'
        grep -c '^not ok ' "$log" | sed 's/$/ not ok/'
        grep -o 'IDX32=1 against the default kernels: .*' "$log" | head -1
        grep -o 'ERROR SUMMARY: [0-9]* errors\?' "$log" | head -1
        grep '^# efficientnet-b0:' "$log" | head -1 ;;
    bats-*)
        grep -c '^ok ' "$log" | sed 's/$/ ok/'
        grep -c '^not ok ' "$log" | sed 's/$/ not ok/'
        grep -c '^ok .* # skip' "$log" | sed 's/$/ skipped/' ;;
    ncu-*)
        grep '^kernels:' "$log" ;;
    gpu-bench)
        grep -c '^ours\|^torch' "$logs/gpu-bench.tsv" 2>/dev/null | sed 's/$/ measurements (gpu-bench.md)/' ;;
    esac
}

# ---- cuDNN: the plugin loads it from DFS_CUDNN_PATH; a GPU machine's PyTorch wheels hold one ----
if [ "$device" = cuda ] && [ -z "${DFS_CUDNN_PATH:-}" ] && [ -n "$python" ]; then
    DFS_CUDNN_PATH=$("$python" -c '
import glob, os, site, sys
for sp in site.getsitepackages():
    for f in sorted(glob.glob(sp + "/nvidia/**/libcudnn.so.9", recursive=True)):
        print(os.path.dirname(f)); sys.exit(0)' 2>/dev/null)
    [ -z "$DFS_CUDNN_PATH" ] || export DFS_CUDNN_PATH
fi
cudnn_note=${DFS_CUDNN_PATH:+DFS_CUDNN_PATH=$DFS_CUDNN_PATH}
cudnn_note=${cudnn_note:-no cuDNN found beside python3: im2col + cuBLAS}
echo "gpu-check.sh: $cudnn_note" >&2

# ---- 1: op tests, graph test (im2col, then cuDNN where found, then TF32: the parity figures) ----
export DFS_REQUIRE_CUDA=$([ "$device" = cuda ] && echo 1 || echo 0)
DFS_CUDNN=$([ -n "${DFS_CUDNN_PATH:-}" ] && echo 1 || echo 0) DFS_REQUIRE_CUDNN=$([ -n "${DFS_CUDNN_PATH:-}" ] && echo 1 || echo 0) \
    step test_cuda_ops 120 build/tests/test_cuda_ops
[ -z "${DFS_CUDNN_PATH:-}" ] || DFS_CUDNN=1 step test_backend_graph-cudnn 120 build/tests/test_backend_graph
step test_backend_graph 120 build/tests/test_backend_graph
# TF32's deviations are measured, not held to float32's tolerance: its row passes when the test ran
DFS_CUDA_TF32=1 step test_backend_graph-tf32 120 sh -c 'build/tests/test_backend_graph; echo "# exit $? (TF32: deviations measured, not held to float32 tolerances)"'
DFS_CUDA_FUSE=0 step test_backend_graph-unfused 120 build/tests/test_backend_graph
DFS_CUDA_IDX32=1 step test_cuda_ops-idx32 120 build/tests/test_cuda_ops
DFS_CUDA_IDX32=1 step test_backend_graph-idx32 120 build/tests/test_backend_graph
unset DFS_REQUIRE_CUDA

# ---- 2: the benchmark, ours with and without TF32 ----
if [ -z "$python" ]; then
    echo "gpu-bench|skipped|0|no python3 on PATH" >> "$rows"
else
    if [ "$device" = cuda ] && [ "$quick" = 0 ]; then size=(--size 256 --batch 32 --steps-scale 0.2); else size=(--size 32 --batch 2 --steps-scale 0.00001); fi
    PYTHON=$python step gpu-bench 300 bench/gpu.sh --prebuilt --device "$device" --reps 1 --tf32 "${GPU_CHECK_TF32:-0,1}" --fuse --idx32 --torch-fp32 \
        --share "${GPU_CHECK_SHARE:-4}" \
        $([ -n "${DFS_CUDNN_PATH:-}" ] && echo --cudnn) \
        "${size[@]}" --out "$logs/gpu-bench.md" --raw "$logs/gpu-bench.tsv"
fi

# ---- 3: tool tests on the device ----
if command -v bats > /dev/null; then
    for f in ${GPU_CHECK_BATS:-60-train 62-device 55-cam 65-ace}; do
        DFS_DEVICE=$device step "bats-$f" 100 bats --tap "tests/$f.bats"
    done
else
    echo "bats|skipped|0|no bats on PATH and none carried (bench/gpu-pack.sh packs it)" >> "$rows"
fi

# ---- 4: memcheck ----
export DFS_REQUIRE_CUDA=$([ "$device" = cuda ] && echo 1 || echo 0)
sanitizer=$(command -v compute-sanitizer || { [ -x /usr/local/cuda/bin/compute-sanitizer ] && echo /usr/local/cuda/bin/compute-sanitizer; })
if [ "$device" != cuda ]; then
    echo "memcheck|skipped|0|--device $device" >> "$rows"
elif [ -n "$sanitizer" ]; then
    # test_cuda_ops asks for 1 PiB on purpose (the out-of-memory path), which memcheck reports
    # ("Program hit cudaErrorMemoryAllocation"); the step passes when the test passes and every
    # other report is absent (invalid accesses, leaks, other API errors)
    # No leak check: the plugin keeps its cuBLAS and cuDNN handles and its workspace for the
    # life of the process, which a leak check lists (9 reports on 2026-12-04, all of those).
    memcheck='"$1" --tool memcheck "$2"; rc=$?
        ! grep -q "^not ok" "$3" 2>/dev/null || exit 1
        [ "$rc" = 0 ] && exit 0
        ! grep "^========= [A-Z]" "$3" | grep -v "COMPUTE-SANITIZER\|ERROR SUMMARY\|Program hit cudaErrorMemoryAllocation" | grep -q .'
    for t in ${GPU_CHECK_MEMCHECK:-test_cuda_ops test_backend_graph}; do
        step "memcheck-$t" 90 bash -c "$memcheck" sh "$sanitizer" "build/tests/$t" "$logs/memcheck-$t.log"
    done
else
    echo "memcheck|skipped|0|no compute-sanitizer on PATH or in /usr/local/cuda/bin" >> "$rows"
fi
unset DFS_REQUIRE_CUDA

# ---- 5: per-kernel time of one training step ----
ncu=$(command -v ncu || { [ -x /usr/local/cuda/bin/ncu ] && echo /usr/local/cuda/bin/ncu; })
if [ "$device" != cuda ]; then
    echo "kernels|skipped|0|--device $device" >> "$rows"
elif [ -z "$ncu" ]; then
    echo "kernels|skipped|0|no ncu on PATH or in /usr/local/cuda/bin (no per-kernel times)" >> "$rows"
else
    for arch in shallownet meso4 mesoinception4 xception efficientnet-b0; do
        step "ncu-$arch" 60 sh -c '"$1" --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel \
                build/bench/nnbench "$2" 256 32 train 1 0 cuda > "$3.raw" 2>&1; rc=$?
            bench/gpu-kernels.awk "$3.raw"; exit $rc' sh "$ncu" "$arch" "$logs/ncu-$arch"
    done
fi

# ---- the summary, last ----
fails=$(awk -F'|' '$2 != "pass" && $2 != "skipped"' "$rows" | wc -l)
{
    echo "# bench/gpu-check.sh"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(($(date +%s) - t_start)) s in all"
    echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([ -n "$from" ] && echo ", binaries from $from: $(head -1 "$from/MANIFEST")")"
    echo "- device: $device$([ "$device" = cuda ] && command -v nvidia-smi > /dev/null && echo ": $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)")"
    echo "- cuDNN: $cudnn_note"
    echo "- python3: ${python:-none}$([ -n "$python" ] && "$python" -c 'import torch; print(", torch", torch.__version__)' 2>/dev/null)"
    echo "- steps not passed: $fails"
    echo
    if [ -f "$logs/gpu-bench.md" ]; then
        sed -n '/^| arch/,/^$/p' "$logs/gpu-bench.md"
    fi
    for f in "$logs"/ncu-*.log; do
        [ -f "$f" ] || continue
        echo "$(basename "$f" .log): $(grep '^kernels:' "$f")"
        grep -A5 '^kernels:' "$f" | tail -n +2 | cut -c1-140 | sed 's/^/    /'
    done
    echo
    echo "| step | status | seconds | note |"
    echo "|---|---|---:|---|"
    awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$rows"
} > "$out/summary.md"
rm -f "$rows"
cp "$out/summary.md" "$logs/summary.md"
tar -czf "$out/gpu-check-logs.tar.gz" -C "$out" logs
[ "$tar_only" = 0 ] || rm -rf "$logs"
cat "$out/summary.md"
[ "$fails" -eq 0 ]
