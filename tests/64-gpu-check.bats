#!/usr/bin/env bats
# bench/gpu-check.sh without a GPU: the dry run is one line and exit 3, writing nothing; a --from
# that is not a pack, a bad --device and missing binaries are one line and exit 2.
load helper

CHECK="$ROOT/bench/gpu-check.sh"

# bench/gpu.sh runs build/bench/nnbench, which `make test` does not build: built here once, before
# the tests (which bats may run in parallel), from the suite's up-to-date library
setup_file() {
    make -s -C "$ROOT" build/bench/nnbench
}

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

@test "gpu.sh: a variant that fails is a row of nan and a line with its reason, left out of the median; the benchmark goes on; ours or torch failing stops it" {
    requires python-torch
    # a PyTorch whose first --tf32 run fails, then one that fails every run
    printf '#!/bin/sh\ncase "$*" in *--tf32*) [ -e "%s/once" ] || { : > "%s/once"; echo "torchbench: no --tf32 here" >&2; exit 1; } ;; esac\nexec %s "$@"\n' \
        "$TMP" "$TMP" "$TORCH_PYTHON" > "$TMP/py-once"
    printf '#!/bin/sh\ncase "$*" in *torchbench*) echo "torchbench: broken" >&2; exit 1 ;; esac\nexec %s "$@"\n' \
        "$TORCH_PYTHON" > "$TMP/py-broken"
    chmod +x "$TMP/py-once" "$TMP/py-broken"
    run env PYTHON="$TMP/py-once" "$ROOT/bench/gpu.sh" --prebuilt --device cpu --archs meso4 --size 32 --batch 2 \
        --reps 2 --steps-scale 0.00001 --torch-fp32 --out "$TMP/g.md" --raw "$TMP/g.tsv"
    assert_success
    assert_line "  torch-fp32 meso4 train: FAILED (a row of nan): torchbench: no --tf32 here"
    # the failed run is a row of nan; the other run of the same measurement makes the median
    run awk -F'\t' '$1 == "torch-fp32" && $3 == "train" { print ($4 == "nan" ? "nan" : "rate") }
                    !($1 == "torch-fp32" && $3 == "train") && !($4 > 0) { print "no rate: " $0 }' "$TMP/g.tsv"
    assert_output "$(printf 'nan\nrate')"
    run grep -c '^| meso4 |' "$TMP/g.md"
    assert_output 2
    run grep '^| meso4 | .*nan' "$TMP/g.md"
    assert_failure
    run env PYTHON="$TMP/py-broken" "$ROOT/bench/gpu.sh" --prebuilt --device cpu --archs meso4 --size 32 --batch 2 \
        --reps 1 --steps-scale 0.00001 --out "$TMP/h.md"
    assert_failure 1
    assert_line "gpu.sh: torch meso4 train failed: torchbench: broken"
    assert_no_files "$TMP/h.md"
}
