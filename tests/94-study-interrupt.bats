#!/usr/bin/env bats
# make study PROFILE=test interrupted for real: SIGKILL to make and everything it runs (no
# handler runs, nothing is cleaned up), then SIGINT to the whole process group (a Ctrl-C), then a
# plain `make study`: it finishes the job, leaves no temporaries, and its results are
# byte-identical to an uninterrupted run's. (tests/80-study.bats simulates a kill after the last
# training state; this kills whatever is running at that moment.)
load helper

study_cmd() {
    make -C "$ROOT" --no-print-directory study PROFILE=test JOBS=2 RUNS="$1" BIN="$BIN"
}

setup_file() {
    study_cmd "$BATS_FILE_TMPDIR/ref" > "$BATS_FILE_TMPDIR/ref.log" 2>&1
}

# interrupted SIG FILES: start the study in its own process group, wait until FILES (a find
# -path pattern under runs/test) has one more match than before, then send SIG to the group
interrupted() {
    local sig=$1 pattern=$2 before i pg st=0
    before=$(find runs -path "$pattern" 2> /dev/null | wc -l)
    # (env --default-signal: a background job starts with SIGINT ignored, and make would keep it so)
    setsid sh -c 'echo $$ > pgid; exec env --default-signal=INT make -C "$1" --no-print-directory study PROFILE=test JOBS=2 RUNS="$2" BIN="$3"' \
        sh "$ROOT" "$PWD/runs" "$BIN" > "run-$sig.log" 2>&1 &
    local pid=$!
    for ((i = 0; i < 3000; i++)); do
        [ "$(find runs -path "$pattern" 2> /dev/null | wc -l)" -gt "$before" ] && break
        sleep 0.01
    done
    pg=$(cat pgid)
    kill -s "$sig" -- "-$pg"
    wait "$pid" || st=$?
    [ "$st" -ne 0 ] || fail "the study finished before SIG$sig arrived"
    # every process of the group is gone before the next run starts
    for ((i = 0; i < 500; i++)); do
        pgrep -g "$pg" > /dev/null || break
        sleep 0.01
    done
}

@test "study: SIGKILL, then Ctrl-C (SIGINT to the group), then make study: same results, no temporaries" {
    interrupted KILL "runs/test/models/*.ckpt"
    interrupted INT "runs/test/scores/*/*.tsv"
    study_cmd "$PWD/runs" > final.log 2>&1 || { cat final.log; fail "the rerun failed"; }
    assert_no_temporaries runs
    # the results; not timings.tsv, the progress counter's state and the epoch logs (seconds), the
    # report (quotes them) and the tools' stderr logs (*.log: absolute paths of the run directory)
    diff -r -x timings.tsv -x progress -x '*.log.tsv' -x '*.log' -x report.md "$BATS_FILE_TMPDIR/ref" runs
}
