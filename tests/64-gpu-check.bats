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
