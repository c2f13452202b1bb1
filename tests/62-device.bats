#!/usr/bin/env bats
# --device on train, predict, cam and ace. Without a GPU here: cuda must fail cleanly before
# touching any file, an unknown device is an error, auto is the cpu. cpu-split (the test device:
# cpu ops on separate memory, so every upload and download a GPU needs happens) must give the
# same files as cpu, byte for byte, for every tool and training stage.
load helper

setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    "$ROOT/bin/synth" --role celeb --split train --videos 6 --frames 4 --size 32 --seed 1 > t.dft
    "$ROOT/bin/synth" --role celeb --split val --videos 2 --frames 4 --size 32 --seed 1 > v.dft
    "$ROOT/bin/synth" --role fs --split train --videos 4 --frames 4 --size 32 --seed 2 > mx.dft
    "$ROOT/bin/synth" --role fs --split val --videos 2 --frames 4 --size 32 --seed 2 > vmx.dft
    "$ROOT/bin/train" --arch meso4 --train t.dft --val v.dft -o m.ckpt --epochs 2 --batch 4 --device cpu -q
    "$ROOT/build/tests/test_cam" --make-ckpt shallownet 32 sn.ckpt
}

F() { echo "$BATS_FILE_TMPDIR/$1"; }

# A usable GPU makes auto pick cuda: the tests of the no-GPU behaviour do not apply there.
no_gpu() {
    local err
    err=$(predict -m nothere.ckpt --device auto --verbose 2>&1 < /dev/null) || true
    if [[ "$err" == *"device cuda"* ]]; then skip "a usable GPU is present"; fi
}

@test "device: --help of every tool names --device" {
    for t in train predict cam ace; do
        run "$t" --help
        assert_success
        assert_output --partial "--device D"
        assert_output --partial "cpu-split"
    done
}

@test "device: an unknown device is a one-line error before anything is read or written" {
    run --separate-stderr train --arch meso4 --train "$(F t.dft)" --val "$(F v.dft)" -o m.ckpt --device tpu
    assert_failure
    assert_equal "$stderr" "train: --device: unknown device 'tpu' (auto, cpu, cuda; cpu-split for tests)"
    run --separate-stderr predict -m "$(F m.ckpt)" --device gpu -o p.tsv "$(F v.dft)"
    assert_failure
    assert_equal "$stderr" "predict: --device: unknown device 'gpu' (auto, cpu, cuda; cpu-split for tests)"
    run --separate-stderr cam -m "$(F m.ckpt)" --device CUDA -o c.dft < "$(F v.dft)"
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    run --separate-stderr ace -m "$(F sn.ckpt)" --device '' -o a.tsv "$(F v.dft)"
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    run --separate-stderr predict -m "$(F m.ckpt)" --device
    assert_failure
    assert_equal "$stderr" "predict: --device needs a value"
    assert_no_files m.ckpt m.last.ckpt m.log.tsv p.tsv c.dft a.tsv
}

@test "device: --device cuda without a usable GPU fails in one line, writing nothing" {
    no_gpu
    run --separate-stderr train --arch meso4 --train missing.dft --val missing.dft -o m.ckpt --device cuda
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "train: no usable CUDA device: "* ]]
    run --separate-stderr predict -m missing.ckpt --device cuda -o p.tsv
    assert_failure
    [[ "$stderr" == "predict: no usable CUDA device: "* ]]
    run --separate-stderr cam -m missing.ckpt --device cuda -o c.dft < /dev/null
    assert_failure
    [[ "$stderr" == "cam: no usable CUDA device: "* ]]
    run --separate-stderr ace -m missing.ckpt --device cuda -o a.tsv
    assert_failure
    [[ "$stderr" == "ace: no usable CUDA device: "* ]]
    assert_no_files m.ckpt m.last.ckpt m.log.tsv p.tsv c.dft a.tsv
    assert_no_temporaries
}

@test "device: auto is the cpu here, silent unless --verbose" {
    no_gpu
    run --separate-stderr train --arch meso4 --train "$(F t.dft)" --val "$(F v.dft)" -o m.ckpt --epochs 2 --batch 4 -q
    assert_success
    assert_equal "$stderr" ""
    cmp m.ckpt "$(F m.ckpt)"
    run --separate-stderr predict -m "$(F m.ckpt)" --device auto --verbose -o p.tsv "$(F v.dft)"
    assert_success
    assert_equal "$stderr" "predict: device cpu"
    predict -m "$(F m.ckpt)" --device cpu "$(F v.dft)" > q.tsv
    cmp p.tsv q.tsv
}

@test "device: train on cpu-split gives the cpu's checkpoints (scratch, transfer, merge, resume)" {
    for d in cpu cpu-split; do
        train --arch mesoinception4 --train "$(F t.dft)" --val "$(F v.dft)" -o "mi-$d.ckpt" --epochs 1 --batch 4 \
            --device "$d" -q
        train --from "$(F m.ckpt)" --mode transfer --train "$(F t.dft)" --mix "$(F mx.dft)" --val "$(F v.dft)" \
            --val-mix "$(F vmx.dft)" -o "tr-$d.ckpt" --epochs 2 --batch 4 --steps 3 --device "$d" -q
        train --from "$(F m.ckpt)" --mode merge --train "$(F t.dft)" --mix "$(F mx.dft)" --val "$(F v.dft)" \
            --val-mix "$(F vmx.dft)" -o "mg-$d.ckpt" --epochs 1 --batch 4 --steps 3 --device "$d" -q
        train --from "$(F m.ckpt)" --mode merge --train "$(F t.dft)" --mix "$(F mx.dft)" --val "$(F v.dft)" \
            --val-mix "$(F vmx.dft)" -o "mg-$d.ckpt" --epochs 2 --batch 4 --steps 3 --device "$d" -q --resume
    done
    for f in mi tr mg; do
        cmp "$f-cpu.ckpt" "$f-cpu-split.ckpt"
        cmp "$f-cpu.last.ckpt" "$f-cpu-split.last.ckpt"
        diff <(cut -f1-5 "$f-cpu.log.tsv") <(cut -f1-5 "$f-cpu-split.log.tsv")
    done
}

@test "device: predict, cam and ace on cpu-split give the cpu's files" {
    for d in cpu cpu-split; do
        predict -m "$(F m.ckpt)" --batch 5 --device "$d" -o "p-$d.tsv" "$(F v.dft)"
        cam -m "$(F m.ckpt)" --batch 3 --guided --device "$d" -o "cg-$d.dft" < "$(F v.dft)"
        cam -m "$(F sn.ckpt)" --batch 4 --class real --device "$d" -o "cs-$d.dft" < "$(F v.dft)"
        ace -m "$(F sn.ckpt)" --batches 1 --batch 4 --steps 3 --device "$d" -o "a-$d.tsv" "$(F v.dft)" 2>/dev/null
        ace -m "$(F sn.ckpt)" --layer block3.relu2 --batches 1 --batch 4 --steps 2 --no-tail --device "$d" \
            -o "an-$d.tsv" "$(F v.dft)" 2>/dev/null
    done
    for f in p-%s.tsv cg-%s.dft cs-%s.dft a-%s.tsv an-%s.tsv; do
        # shellcheck disable=SC2059
        cmp "$(printf "$f" cpu)" "$(printf "$f" cpu-split)"
    done
    [ "$(wc -l < p-cpu.tsv)" -eq 9 ]
    [ "$(wc -l < a-cpu.tsv)" -gt 1 ] && [ "$(wc -l < an-cpu.tsv)" -gt 1 ]
}

@test "device: DFS_DEVICE sets the default, --device overrides it, a bad value is named" {
    DFS_DEVICE=bogus run --separate-stderr predict -m "$(F m.ckpt)" -o p.tsv "$(F v.dft)"
    assert_failure
    assert_equal "$stderr" "predict: DFS_DEVICE: unknown device 'bogus' (auto, cpu, cuda; cpu-split for tests)"
    [ ! -e p.tsv ]
    DFS_DEVICE=bogus run --separate-stderr predict -m "$(F m.ckpt)" --device cpu -o p.tsv "$(F v.dft)"
    assert_success
    DFS_DEVICE=cpu-split run --separate-stderr predict -m "$(F m.ckpt)" --verbose -o q.tsv "$(F v.dft)"
    assert_success
    assert_equal "$stderr" "predict: device cpu-split: cpu with split memory (test device)"
    cmp p.tsv q.tsv
}
