#!/usr/bin/env bats
# bench/gpu-check.sh without a GPU: the dry run is one line and exit 3, writing nothing; a --from
# that is not a pack, a bad --device and missing binaries are one line and exit 2.
load helper

CHECK="$ROOT/bench/gpu-check.sh"

no_gpu() {
    local err
    err=$(predict -m nothere.ckpt --device auto --verbose 2>&1 < /dev/null) || true
    if [[ "$err" == *"device cuda"* ]]; then skip "a usable GPU is present"; fi
}

@test "gpu-check: without a usable GPU, one line naming the reason, exit 3, nothing written" {
    no_gpu
    run --separate-stderr "$CHECK" out
    [ "$status" -eq 3 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "gpu-check.sh: no usable CUDA device: "*"(nothing run)" ]]
    assert_equal "$output" ""
    assert_no_files out
}

@test "gpu-check: a --from that is not a pack, a bad --device: one line, exit 2" {
    mkdir notapack
    run --separate-stderr "$CHECK" --from notapack out
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "gpu-check.sh: $TMP/notapack is not a pack of bench/gpu-pack.sh (no MANIFEST)"
    run --separate-stderr "$CHECK" --from nothere out
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "gpu-check.sh: --from: no directory $TMP/nothere"
    run --separate-stderr "$CHECK" --device tpu out
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "gpu-check.sh: --device: cuda, cpu or cpu-split, not 'tpu'"
    assert_no_files out
}

@test "gpu-check: a pack missing binaries names them in one line, exit 2" {
    # a copy of the scripts beside an empty pack: no build/ and no tools there
    mkdir -p co/bench co/bin pk
    cp "$CHECK" co/bench/
    echo "commit test" > pk/MANIFEST
    run --separate-stderr co/bench/gpu-check.sh --from pk --device cpu out
    [ "$status" -eq 2 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "gpu-check.sh: missing: bin/synth bin/pack "*" build/bench/nnbench (build with make"* ]]
    assert_no_files out co/out
}

@test "gpu.sh --device cpu: ours with DFS_CUDA_IDX32=1 and PyTorch with TF32 off get their rows and tables" {
    requires python-torch
    # the suite's library as it is (-o): only nnbench is built
    run make -s -C "$ROOT" -o build/libdfstudy.a build/bench/nnbench
    assert_success
    run env PYTHON="$TORCH_PYTHON" "$ROOT/bench/gpu.sh" --prebuilt --device cpu --archs meso4 --size 32 --batch 2 \
        --reps 1 --steps-scale 0.00001 --idx32 --torch-fp32 --out "$TMP/g.md" --raw "$TMP/g.tsv"
    assert_success
    run cut -f1-3 "$TMP/g.tsv"
    assert_output "$(printf '%s\tmeso4\t%s\n' ours train ours-idx32 train torch train torch-fp32 train \
        ours infer ours-idx32 infer torch infer torch-fp32 infer)"
    run awk -F'\t' '!($4 > 0) { print "no rate: " $0 }' "$TMP/g.tsv"
    assert_output ""
    run grep -c '^| meso4 |' "$TMP/g.md"
    assert_output 3
    run grep -e '^Ours with DFS_CUDA_IDX32=1' -e '^Ours (ours) against PyTorch with TF32 off' "$TMP/g.md"
    assert_equal "${#lines[@]}" 2
}

@test "torchbench --tf32: 0 or 1, else one line and a non-zero exit" {
    requires python-torch
    run "$TORCH_PYTHON" "$ROOT/bench/torchbench.py" meso4 32 2 infer 1 0 1 --tf32 2
    assert_failure
    assert_output "torchbench: --tf32 needs 0 or 1"
    run "$TORCH_PYTHON" "$ROOT/bench/torchbench.py" meso4 32 2 infer 1 0 1 --tf32 0
    assert_success
    assert_output --regexp '^meso4 32 2 infer 1 [0-9.]+ [0-9.]+$'
}

@test "gpu.sh: a variant that fails is a row of nan and a line; the benchmark goes on; ours or torch failing stops it" {
    requires python-torch
    run make -s -C "$ROOT" -o build/libdfstudy.a build/bench/nnbench
    assert_success
    # a PyTorch without --tf32 (as an API it lacks would be), then one that fails every run
    printf '#!/bin/sh\ncase "$*" in *--tf32*) exit 1 ;; esac\nexec %s "$@"\n' "$TORCH_PYTHON" > "$TMP/py-notf32"
    printf '#!/bin/sh\ncase "$*" in *torchbench*) exit 1 ;; esac\nexec %s "$@"\n' "$TORCH_PYTHON" > "$TMP/py-broken"
    chmod +x "$TMP/py-notf32" "$TMP/py-broken"
    run env PYTHON="$TMP/py-notf32" "$ROOT/bench/gpu.sh" --prebuilt --device cpu --archs meso4 --size 32 --batch 2 \
        --reps 1 --steps-scale 0.00001 --torch-fp32 --out "$TMP/g.md" --raw "$TMP/g.tsv"
    assert_success
    assert_line "  torch-fp32 meso4 train: FAILED (a row of nan)"
    run awk -F'\t' '$1 == "torch-fp32" { print $4 } $1 != "torch-fp32" && !($4 > 0) { print "no rate: " $0 }' "$TMP/g.tsv"
    assert_output "$(printf 'nan\nnan')"
    run grep -c '^| meso4 |' "$TMP/g.md"
    assert_output 2
    run env PYTHON="$TMP/py-broken" "$ROOT/bench/gpu.sh" --prebuilt --device cpu --archs meso4 --size 32 --batch 2 \
        --reps 1 --steps-scale 0.00001 --out "$TMP/h.md"
    assert_failure 1
    assert_line "gpu.sh: torch meso4 train failed"
    assert_no_files "$TMP/h.md"
}
