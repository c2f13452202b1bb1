#!/usr/bin/env bats
# make study's progress (pipelines/progress.sh): one stderr line per finished target,
# "study: [k/N] TARGET SECONDS[, about T left]", k running 1..N once each and N the count the
# run announced, with make -j2 and with the GNU parallel fan-out (JOBS=2); nothing on stdout and
# no line when there is nothing to make.
load helper

# the counter lines of a log are 1..N in order, each target once, N announced first
check_counter() {
    local log=$1 n
    n=$(sed -n 's/^study: \([0-9][0-9]*\) targets to make in .*/\1/p' "$log")
    [ -n "$n" ] && [ "$n" -gt 50 ]
    run awk -v n="$n" 'match($0, /^study: \[[0-9]+\/[0-9]+\] /) {
            split(substr($0, 9, RLENGTH - 10), a, "/")
            if (a[1] != ++k || a[2] != n) { print "bad line " NR ": " $0; exit 1 }
            t = $3; if (t in seen) { print "twice: " t; exit 1 } seen[t] = 1
            if ($4 !~ /^[0-9]+\.[0-9]s,?$/) { print "no seconds: " $0; exit 1 }
            if ($0 ~ /left$/) eta++
        }
        END { if (k != n) { print "reached " k " of " n; exit 1 }
              if (eta < n / 2) { print "an estimate on only " eta " lines"; exit 1 }
              if (t != "report.md") { print "last: " t; exit 1 } }' "$log"
    assert_success
}

@test "progress: make study counts every target to the total, on stderr only" {
    make -C "$ROOT" --no-print-directory -f pipelines/study.mk -j2 PROFILE=test RUNS="$PWD/r" BIN="$BIN" \
        > out.log 2> err.log
    check_counter err.log
    run grep -c '^study: \[' out.log
    assert_output 0
    # the first two finished targets carry no estimate: no basis yet
    run sh -c "grep '^study: \[1/' err.log"
    refute_output --partial left
    # a second run makes nothing and counts nothing
    make -C "$ROOT" --no-print-directory -f pipelines/study.mk -j2 PROFILE=test RUNS="$PWD/r" BIN="$BIN" > out2.log 2> err2.log
    run cat err2.log
    assert_output --partial "study: nothing to make in $PWD/r/test"
    refute_output --partial 'study: ['
    # a dry run writes no counter
    rm -rf r/test/progress
    make -C "$ROOT" --no-print-directory -f pipelines/study.mk -n PROFILE=test RUNS="$PWD/r" BIN="$BIN" > /dev/null 2>&1
    [ ! -e r/test/progress ]
}

@test "progress: the GNU parallel fan-out (JOBS=2) counts every target to the total" {
    command -v parallel > /dev/null || skip "GNU parallel is not installed (make deps)"
    make -C "$ROOT" --no-print-directory study PROFILE=test JOBS=2 RUNS="$PWD/r" BIN="$BIN" > out.log 2> err.log
    check_counter err.log
}

@test "progress: progress.sh done outside a counted run prints nothing" {
    run "$ROOT/pipelines/progress.sh" done "$PWD/none" models/x.ckpt 1 2
    assert_success
    assert_output ''
}
