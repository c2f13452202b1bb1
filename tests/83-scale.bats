#!/usr/bin/env bats
# Scaling the study out (issue 24), on the CPU: pipelines/gpu-job.sh hands each concurrent job
# its own GPU; pipelines/fanout.sh passes GPUS to it and takes Slurm's node list for HOSTS=slurm
# (a fake scontrol here); FANOUT_DRY=1 shows the parallel command line and the host list.
load helper

GJ="$ROOT/pipelines/gpu-job.sh"

@test "gpu-job.sh: concurrent jobs hold different GPUs; a job waits while every GPU is held" {
    export TMPDIR="$BATS_TEST_TMPDIR" DFS_GPU_LOG="$PWD/gpus.log"
    local i
    for i in 1 2; do "$GJ" "3,5" sh -c 'echo "$CUDA_VISIBLE_DEVICES" > out.'$i'; sleep 2' & done
    sleep 0.5
    # both GPUs are held: a third job starts only when one is free again
    "$GJ" "3 5" sh -c 'echo "$CUDA_VISIBLE_DEVICES" > out.3'
    wait
    assert_equal "$(sort out.1 out.2 | tr '\n' ' ')" "3 5 "
    grep -qx '[35]' out.3
    [ "$(wc -l < gpus.log)" -eq 3 ]
    # the command's status is the job's
    run "$GJ" 0 sh -c 'exit 7'
    [ "$status" -eq 7 ]
    run --separate-stderr "$GJ" "0 x" true
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "gpu-job.sh: GPU id 'x' is not a whole number"
}

@test "gpu-job.sh: a GPU listed twice takes two jobs at once, and a third waits" {
    export TMPDIR="$BATS_TEST_TMPDIR"
    local i
    # each job notes when it starts and ends (whole seconds are too coarse: order by a counter file)
    for i in 1 2; do "$GJ" "4 4" sh -c 'echo "$CUDA_VISIBLE_DEVICES" > out.'$i'; echo start >> events; sleep 2; echo end >> events' & done
    sleep 0.5
    "$GJ" "4,4" sh -c 'echo "$CUDA_VISIBLE_DEVICES" > out.3; echo start3 >> events'
    wait
    assert_equal "$(cat out.1 out.2 out.3 | tr '\n' ' ')" "4 4 4 "
    # both shared jobs started before either ended; the third only after one had ended
    assert_equal "$(head -2 events | tr '\n' ' ')" "start start "
    [ "$(grep -n start3 events | cut -d: -f1)" -gt "$(grep -n '^end' events | head -1 | cut -d: -f1)" ]
    # listed once, the same GPU takes one job at a time
    : > events
    for i in 1 2; do "$GJ" "4" sh -c 'echo start >> events; sleep 1; echo end >> events' & done
    wait
    assert_equal "$(tr '\n' ' ' < events)" "start end start end "
}

@test "fanout.sh: GPUS gives one job per GPU through gpu-job.sh; HOSTS=slurm reads the allocation's nodes" {
    local F="$ROOT/pipelines/fanout.sh"
    run env FANOUT_DRY=1 MAKE_ARGS='-f x.mk' GPUS=0,1,2 "$F" wave0
    assert_success
    assert_output "parallel --will-cite --halt soon,fail=1 --line-buffer -j 3 $ROOT/pipelines/gpu-job.sh '0 1 2' make -s --no-print-directory -f x.mk {}"
    # without GPUS the command is make alone, as before
    run env FANOUT_DRY=1 MAKE_ARGS='-f x.mk' JOBS=2 "$F" wave0
    assert_output "parallel --will-cite --halt soon,fail=1 --line-buffer -j 2 make -s --no-print-directory -f x.mk {}"
    # Slurm: scontrol expands the node list; JOBS jobs per node
    mkdir fake
    printf '#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && [ "$3" = "gpu[07-08]" ] && printf "gpu07\\ngpu08\\n"\n' > fake/scontrol
    chmod +x fake/scontrol
    run env PATH="$PWD/fake:$PATH" SLURM_JOB_NODELIST='gpu[07-08]' FANOUT_DRY=1 MAKE_ARGS='-f x.mk' HOSTS=slurm GPUS='0 1' "$F" wave0
    assert_success
    assert_line --index 0 --regexp "^parallel --will-cite --halt soon,fail=1 --line-buffer -j 2 --sshloginfile [^ ]*/fanout-hosts\.[A-Za-z0-9]+ --workdir $PWD $ROOT/pipelines/gpu-job.sh '0 1' make "
    assert_line --index 1 'host: 2/gpu07'
    assert_line --index 2 'host: 2/gpu08'
    run --separate-stderr env -u SLURM_JOB_NODELIST FANOUT_DRY=1 MAKE_ARGS= HOSTS=slurm "$F" wave0
    assert_failure
    assert_equal "$stderr" "fanout.sh: HOSTS=slurm outside a Slurm allocation (no SLURM_JOB_NODELIST)"
    run --separate-stderr env FANOUT_DRY=1 MAKE_ARGS= GPUS=0,a "$F" wave0
    assert_failure
    assert_equal "$stderr" "fanout.sh: GPUS: 'a' is not a device number"
    # GPU_SLOTS=K: K jobs share each GPU (each listed K times), K times the jobs
    run env FANOUT_DRY=1 MAKE_ARGS='-f x.mk' GPUS=0,1 GPU_SLOTS=3 "$F" wave0
    assert_success
    assert_output "parallel --will-cite --halt soon,fail=1 --line-buffer -j 6 $ROOT/pipelines/gpu-job.sh '0 0 0 1 1 1' make -s --no-print-directory -f x.mk {}"
    for bad in 0 x -1; do
        run --separate-stderr env FANOUT_DRY=1 MAKE_ARGS= GPUS=0 GPU_SLOTS=$bad "$F" wave0
        assert_failure
        assert_equal "$stderr" "fanout.sh: GPU_SLOTS: '$bad' is not a positive whole number"
    done
}

@test "make study GPUS=... FANOUT_DRY=1: the dry run names the jobs' launcher and runs nothing" {
    run make -C "$ROOT" --no-print-directory study PROFILE=test RUNS="$PWD/r" BIN="$BIN" GPUS=0,1 FANOUT_DRY=1
    assert_success
    assert_output --partial "-j 2 $ROOT/pipelines/gpu-job.sh '0 1' make -s --no-print-directory -f $ROOT/pipelines/study.mk FANOUT=0"
    [ ! -e r ]
    run make -C "$ROOT" --no-print-directory study PROFILE=test RUNS="$PWD/r" BIN="$BIN" GPUS=0,1 GPU_SLOTS=2 FANOUT_DRY=1
    assert_success
    assert_output --partial "-j 4 $ROOT/pipelines/gpu-job.sh '0 0 1 1' make -s --no-print-directory -f $ROOT/pipelines/study.mk FANOUT=0"
    [ ! -e r ]
}
