#!/usr/bin/env bats
# ace: the CLI on a randomly initialised ShallowNet at 32x32 (written by test_cam --make-ckpt, the
# one maker of fresh checkpoints for tests) and synthetic faces.
load helper

setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    "$ROOT/build/tests/test_cam" --make-ckpt shallownet 32 sn.ckpt
    "$ROOT/bin/synth" --role celeb --split test --size 32 --videos 4 --frames 5 > d.dft
}

F() { echo "$BATS_FILE_TMPDIR/$1"; }

@test "ace: --help describes both modes and exits 0" {
    run ace --help
    assert_success
    assert_output --partial "do(h_i = v)"
    assert_output --partial "--overlap"
    assert_output --partial "neuron lo hi e1 .. eSTEPS score rank"
}

@test "ace: unknown flag is a one-line error" {
    run --separate-stderr ace --bogus
    assert_failure
    [ "$stderr" = "ace: unknown argument '--bogus' (see --help)" ]
}

@test "ace: unknown layer names the checkpoint and the layer" {
    run --separate-stderr ace -m "$(F sn.ckpt)" --layer nope "$(F d.dft)"
    assert_failure
    [ "$stderr" = "ace: $(F sn.ckpt): no layer 'nope' in shallownet" ]
    [ -z "$output" ]
}

@test "ace: missing model or data file" {
    run --separate-stderr ace -m missing.ckpt "$(F d.dft)"
    assert_failure
    [[ $stderr == "ace: missing.ckpt: "* ]]
    run --separate-stderr ace -m "$(F sn.ckpt)" missing.dft -o out.tsv
    assert_failure
    [[ $stderr == "ace: missing.dft: "* ]]
    assert_no_files out.tsv
    assert_no_temporaries
}

@test "ace: images of the wrong size are refused" {
    synth --role celeb --split test --size 40 --videos 2 --frames 1 > big.dft
    run --separate-stderr ace -m "$(F sn.ckpt)" big.dft
    assert_failure
    [ "$stderr" = "ace: big.dft: record 0: expected a u8 32x32x3 image (the model's input size)" ]
}

@test "ace: output format: header, one line per neuron, ranks 1..N, score = max - min" {
    run --separate-stderr ace -m "$(F sn.ckpt)" --batches 2 --batch 8 "$(F d.dft)" -o a.tsv
    assert_success
    [ "$stderr" = "ace: $(F d.dft): 20 images, fewer than 2 x 2 batches x 8: both phases use the same 16 images" ]
    [ "$(head -1 a.tsv)" = "$(printf 'neuron\tlo\thi\te1\te2\te3\te4\tscore\trank')" ]
    [ "$(wc -l < a.tsv)" -eq 1025 ]
    awk -F'\t' 'NR > 1 {
        if (NF != 9 || $1 != NR - 2) { print "line " NR; bad = 1 }
        if ($2 > $3 || $2 > 1 || $3 < 0) { print "range " NR; bad = 1 }
        mx = $4; mn = $4
        for (c = 5; c <= 7; c++) { if ($c > mx) mx = $c; if ($c < mn) mn = $c }
        d = $8 - (mx - mn); if (d < 0) d = -d
        if (d > 1e-7) { print "score " NR; bad = 1 }
        if (seen[$9]++) { print "rank twice " $9; bad = 1 }
    } END { for (r = 1; r <= 1024; r++) if (!seen[r]) { print "no rank " r; bad = 1 }; exit bad }' a.tsv
    # rank 1 has the largest score
    top=$(awk -F'\t' 'NR > 1 && $9 == 1 { print $8 }' a.tsv)
    max=$(awk -F'\t' 'NR > 1 && $8 > m { m = $8 } END { print m }' a.tsv)
    [ "$top" = "$max" ]
    assert_no_temporaries
}

@test "ace: deterministic by seed; another seed samples other images" {
    synth --role celeb --split test --size 32 --videos 8 --frames 5 > many.dft
    ace -m "$(F sn.ckpt)" --batches 2 --batch 4 --steps 3 many.dft > a.tsv 2>/dev/null
    ace -m "$(F sn.ckpt)" --batches 2 --batch 4 --steps 3 < many.dft > b.tsv 2>/dev/null
    cmp a.tsv b.tsv
    ace -m "$(F sn.ckpt)" --batches 2 --batch 4 --steps 3 --seed 9 many.dft > c.tsv 2>/dev/null
    ! cmp -s a.tsv c.tsv
    [ "$(head -1 a.tsv | tr '\t' '\n' | wc -l)" -eq 8 ]
}

@test "ace: the full-graph path agrees with the tail path" {
    ace -m "$(F sn.ckpt)" --batches 1 --batch 8 "$(F d.dft)" > a.tsv
    ace -m "$(F sn.ckpt)" --batches 1 --batch 8 --no-tail "$(F d.dft)" > b.tsv
    paste a.tsv b.tsv | awk -F'\t' 'NR > 1 { for (c = 2; c <= 8; c++) { d = $c - $(c + 9); if (d < 0) d = -d; if (d > 1e-6) { print NR, c; bad = 1 } } } END { exit bad }'
}

@test "ace: a convolution layer has one neuron per channel; observed ranges" {
    ace -m "$(F sn.ckpt)" --layer block3.relu2 --range observed --batches 1 --batch 4 --steps 2 "$(F d.dft)" > a.tsv
    ch=$(train --arch shallownet --size 32 --summary | awk '$1 == "block3.relu2" { split($3, s, "x"); print s[1] }')
    [ "$(wc -l < a.tsv)" -eq $((ch + 1)) ]
    # observed ranges of a ReLU output: lo >= 0
    awk -F'\t' 'NR > 1 && $2 < 0 { exit 1 }' a.tsv
}

# made-up rankings of N = 4 neurons
mkrank() {   # file rank0 rank1 rank2 rank3
    local f=$1; shift
    printf 'neuron\tscore\trank\n' > "$f"
    local i=0
    for r in "$@"; do printf '%d\t0\t%d\n' "$i" "$r" >> "$f"; i=$((i + 1)); done
}

@test "ace --overlap: counts, chance and p-value on made-up rankings" {
    mkrank a.tsv 1 2 3 4
    mkrank b.tsv 2 1 4 3
    mkrank c.tsv 1 4 2 3
    run --separate-stderr ace --overlap --top 1,2 a.tsv b.tsv c.tsv
    assert_success
    expected=$(printf 'k\tj\tobserved\texpected\tp_value\n1\t1\t1\t1.6875\t-\n1\t2\t1\t0.5625\t-\n1\t3\t0\t0.0625\t1\n2\t1\t1\t1.5\t-\n2\t2\t1\t1.5\t-\n2\t3\t1\t0.5\t0.472222\n')
    [ "$output" = "$expected" ]
    run ace --overlap --top 2 --markdown a.tsv b.tsv c.tsv
    assert_success
    assert_line --index 0 "| top k | in exactly 1 (chance) | in exactly 2 (chance) | in exactly 3 (chance) | p (all 3) |"
    assert_line --index 2 "| 2 | 1 (1.5) | 1 (1.5) | 1 (0.5) | 0.472 |"
}

@test "ace --overlap: errors" {
    mkrank a.tsv 1 2 3 4
    mkrank b.tsv 2 1 4 3
    printf 'neuron\trank\n0\t1\n1\t2\n' > short.tsv
    run --separate-stderr ace --overlap a.tsv
    assert_failure
    [ "$stderr" = "ace: --overlap needs at least two ace tables" ]
    run --separate-stderr ace --overlap --top 5 a.tsv b.tsv
    assert_failure
    [ "$stderr" = "ace: --top: '5' is not an integer in [1, 4]" ]
    run --separate-stderr ace --overlap --top 1 a.tsv short.tsv
    assert_failure
    [ "$stderr" = "ace: short.tsv: 2 neurons, a.tsv has 4" ]
    printf 'neuron\trank\n0\t1\n1\t1\n' > dup.tsv
    run --separate-stderr ace --overlap --top 1 short.tsv dup.tsv
    assert_failure
    [ "$stderr" = "ace: dup.tsv: ranks are not 1..2" ]
    run --separate-stderr ace --overlap --top 1 a.tsv nothere.tsv
    assert_failure
    [ "$stderr" = "ace: nothere.tsv: cannot open" ]
}

@test "ace --threads N: as OMP_NUM_THREADS=N; 0 is refused in one line" {
    OMP_NUM_THREADS=1 ace -m "$(F sn.ckpt)" --batches 1 --batch 8 "$(F d.dft)" > env.tsv
    ace -m "$(F sn.ckpt)" --batches 1 --batch 8 --threads 1 "$(F d.dft)" > opt.tsv
    cmp env.tsv opt.tsv
    run --separate-stderr ace -m "$(F sn.ckpt)" --threads 0 "$(F d.dft)"
    assert_failure
    assert_equal "$stderr" "ace: --threads: '0' is not an integer in [1, 1024]"
}
