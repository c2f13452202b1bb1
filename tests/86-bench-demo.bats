#!/usr/bin/env bats
# bench/demo.sh, the demo's goal measured, with a stand-in for make on PATH (the real demo takes
# many minutes): the build does nothing and `make demo RUNS=DIR` writes a run's timings and its
# Table 4 (score --table 4 --auc) from the score files the test prepared. The report lists each
# of the 30 detectors with its accuracy and AUC, and the exit status says whether all reached
# 85% and 0.95.
load helper

ARCHS="MesoNet MesoInception ShallowNet XceptionNet EfficientNet"

# scores DIR ACC_CORRECT: score files for the 30 detectors, 20 images of their own test set,
# the first ACC_CORRECT of them on the right side of 0.5 (labels alternate; p ranks perfectly
# only when all are right)
scores() {
    local d=$1 right=$2 a k set
    for a in $ARCHS; do for k in 1 2 3 4 5 6; do
        if [ "$k" -le 3 ]; then set=CELEB; else set=F2F; fi
        mkdir -p "$d/$a$k"
        awk -v s="$set" -v right="$right" 'BEGIN {
            print "key\tdataset\tlabel\tp_fake"
            for (i = 0; i < 20; i++) {
                l = i % 2; p = l ? 0.9 : 0.1
                if (i >= right) p = l ? 0.4 : 0.6
                printf "%s/v%02d/f00\t%s\t%d\t%.2f\n", tolower(s), i, tolower(s), l, p }
        }' > "$d/$a$k/$set.tsv"
    done; done
}

setup() {
    TMP="$BATS_TEST_TMPDIR"
    cd "$TMP" || return 1
    mkdir fakebin
    cat > fakebin/make <<'EOF'
#!/bin/bash
for a in "$@"; do case $a in RUNS=*) runs=${a#RUNS=} ;; esac; done
[ -n "${runs:-}" ] || exit 0
[ -z "${FAKE_FAIL:-}" ] || { echo "make: *** [demo] Error 2" >&2; exit 2; }
mkdir -p "$runs/demo/tables"
printf 'train1\tmodels/MesoNet1.ckpt\t1\t2\t3.00\ntrain1\tmodels/MesoNet4.ckpt\t1\t2\t2.50\npredict\tscores/x\t1\t2\t0.5\n' > "$runs/demo/timings.tsv"
score --table 4 --auc --dir "$FAKE_SCORES" -o "$runs/demo/tables/table4.tsv" 2> /dev/null
EOF
    chmod +x fakebin/make
    PATH="$TMP/fakebin:$PATH"
    export FAKE_SCORES="$TMP/scores"
}

@test "bench/demo.sh: all 30 detectors at the bar in time: exit 0, each listed with its numbers" {
    scores scores 20
    run "$ROOT/bench/demo.sh" runs -o out.md
    assert_success
    assert_output --partial 'goal met; 0 detector(s) below the bar'
    [ "$(grep -c '| 100.00 | 1.0000 | ok |$' out.md)" -eq 30 ]
    grep -q '^| XceptionNet6 | F2F, merge | 100.00 | 1.0000 | ok |$' out.md
    grep -q '^| MesoNet1 | CELEB | 100.00 | 1.0000 | ok |$' out.md
    grep -q '^| train1 | 2 | 6 |$' out.md
    grep -q '^- result: goal met (0 of 30 detectors below the bar; wall time within 20 minutes)$' out.md
    grep -q '^- load average (1, 5, 15 min): [0-9.]* [0-9.]* [0-9.]* at the start' out.md
    assert_no_files out.md.tmp
}

@test "bench/demo.sh: a detector below 85% and one missing from the table: exit 1, both named" {
    scores scores 20
    # 16 of 20 right: 80%, while the AUC, 0.96, passes: the accuracy alone misses
    awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 && NR <= 5 { $4 = ($3 == 1) ? 0.45 : 0.55 } 1' \
        scores/ShallowNet4/F2F.tsv > s.tsv && mv s.tsv scores/ShallowNet4/F2F.tsv
    rm -r scores/XceptionNet6
    run "$ROOT/bench/demo.sh" runs -o -
    assert_failure 1
    assert_line '| ShallowNet4 | F2F | 80.00 | 0.9600 | MISS |'
    assert_line '| XceptionNet6 | - | - | - | MISS (not in the table) |'
    assert_line '- result: goal NOT met (2 of 30 detectors below the bar; wall time within 20 minutes)'
}

@test "bench/demo.sh: an AUC below 0.95 misses even at 85% accuracy" {
    scores scores 20
    # 17 of 20 right (85%) but the three wrong ones are confident: AUC 0.85 (the fakes 0.05,
    # the real image 0.95)
    awk -F'\t' 'BEGIN { OFS = "\t" } NR > 1 && NR <= 4 { $4 = ($3 == 1) ? 0.05 : 0.95 } 1' \
        scores/EfficientNet1/CELEB.tsv > s.tsv && mv s.tsv scores/EfficientNet1/CELEB.tsv
    run "$ROOT/bench/demo.sh" runs -o -
    assert_failure 1
    assert_line --regexp '^\| EfficientNet1 \| CELEB \| 85.00 \| 0\.[0-8][0-9]* \| MISS \|$'
}

@test "bench/demo.sh: an earlier run in DIR, a failed make, bad usage: exit 2, no report" {
    scores scores 20
    mkdir -p runs/demo
    run "$ROOT/bench/demo.sh" runs -o out.md
    assert_failure 2
    assert_output --partial 'runs/demo exists'
    rm -r runs
    FAKE_FAIL=1 run "$ROOT/bench/demo.sh" runs -o out.md
    assert_failure 2
    assert_output --partial 'make demo failed (exit 2)'
    run "$ROOT/bench/demo.sh"
    assert_failure 2
    run "$ROOT/bench/demo.sh" -o x.md
    assert_failure 2
    assert_no_files out.md out.md.tmp
}
