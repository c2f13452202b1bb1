#!/usr/bin/env bats
# make study's progress (pipelines/progress.sh) outside a counted run. The counted runs themselves
# are checked on the study runs tests/80-study.bats makes anyway (check_progress_counter in
# helper.bash): with make -j2 (its shared run) and with the GNU parallel fan-out (its HOSTS run):
# one stderr line per finished target, nothing on stdout, no line when there is nothing to make.
load helper

@test "progress: progress.sh done outside a counted run prints nothing" {
    run "$ROOT/pipelines/progress.sh" done "$PWD/none" models/x.ckpt 1 2
    assert_success
    assert_output ''
}
