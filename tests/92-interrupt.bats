#!/usr/bin/env bats
# Interruptions: SIGINT, SIGTERM and SIGKILL in the middle of train, predict, cam, ace and
# pack --unpack. The tool dies by the signal; INT and TERM leave no temporary (the handler of
# lib/tool/tool.c removes them, directories included); after KILL the next run removes the dead
# run's temporaries. Rerunning the same command (train: with --resume) gives byte-identical
# outputs to an uninterrupted run.
#
# The stream readers are stopped mid-stream deterministically: the input comes through a FIFO
# that delivers half of the records and then stalls, so the signal always lands while the tool
# is working, never after it has finished. train reads its files by index, so it is signalled as
# soon as its first epoch's state (STEM.last.ckpt) exists, as tests/60-train.bats does.
# (The study pipeline's own kill -9 test is in tests/80-study.bats.)
load badinput

setup_file() {
    local d=$BATS_FILE_TMPDIR
    cd "$d" || return 1
    "$ROOT/bin/synth" --role fs --videos 8 --frames 2 --size 32 --seed 1 > img.dft
    "$ROOT/bin/synth" --role fs --split val --videos 2 --frames 2 --size 32 --seed 2 > val.dft
    "$ROOT/build/tests/test_cam" --make-ckpt meso4 32 meso4.ckpt > /dev/null
    # uninterrupted references
    "$ROOT/bin/predict" -m meso4.ckpt -o ref.tsv < img.dft
    "$ROOT/bin/cam" -m meso4.ckpt --png ref.png -o ref.cam.dft < img.dft
    "$ROOT/bin/ace" -m meso4.ckpt "${ACE_ARGS[@]}" -o ref.ace.tsv < img.dft
    "$ROOT/bin/train" "${TRAIN_ARGS[@]}" -q -o ref.ckpt
}

ACE_ARGS=(--layer block4.relu --batches 2 --batch 4 --steps 2)
TRAIN_ARGS=(--arch meso4 --train img.dft --val val.dft --epochs 20 --batch 4 --threads 1)

signum() { kill -l "$1"; }

# catching PID: wait until PID catches SIGINT (its handlers are installed: dfs_tool_init ran).
# A background job of a non-interactive shell starts with SIGINT ignored, so a SIGINT sent
# before that point would be lost and the test would wait forever.
catching() {
    local i mask
    for ((i = 0; i < 1000; i++)); do
        mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$1/status" 2> /dev/null)
        [ -n "$mask" ] && (((0x$mask >> 1) & 1)) && return 0
        sleep 0.005
    done
    fail "process $1 never installed its signal handlers"
}

# stalled_run SIG WAIT_FOR CMD...: run CMD with stdin from a FIFO fed half of img.dft, wait until
# WAIT_FOR exists (a glob; "" for none), send SIG, and check that CMD died by it
stalled_run() {
    local sig=$1 want=$2 pid st=0 i fd
    shift 2
    mkfifo in.fifo
    "$@" < in.fifo &
    pid=$!
    exec {fd}> in.fifo   # (not fd 3: bats writes its report there)
    head -c $(($(stat -c %s img.dft) / 2)) img.dft >&"$fd"
    if [ -n "$want" ]; then
        for ((i = 0; i < 500; i++)); do
            compgen -G "$want" > /dev/null && break
            sleep 0.01
        done
        compgen -G "$want" > /dev/null || fail "$want never appeared"
    fi
    catching "$pid"
    kill -s "$sig" "$pid"
    wait "$pid" || st=$?
    exec {fd}>&-
    rm in.fifo
    [ "$st" -eq $((128 + $(signum "$sig"))) ] || fail "exit status $st, not killed by SIG$sig"
    if [ "$sig" != KILL ]; then assert_no_temporaries .; fi
}

# ---- predict ----
predict_case() {
    cp "$BATS_FILE_TMPDIR"/{img.dft,meso4.ckpt} .
    stalled_run "$1" "out.tsv.tmp.*" predict -m meso4.ckpt -o out.tsv
    [ ! -e out.tsv ]
    predict -m meso4.ckpt -o out.tsv < img.dft
    cmp out.tsv "$BATS_FILE_TMPDIR/ref.tsv"
    assert_no_temporaries .
}
@test "predict: SIGINT mid-stream, then the rerun" { predict_case INT; }
@test "predict: SIGTERM mid-stream, then the rerun" { predict_case TERM; }
@test "predict: SIGKILL mid-stream, then the rerun removes the dead run's temporary" {
    predict_case KILL
}

# ---- cam (with --png: a directory written atomically too) ----
cam_case() {
    cp "$BATS_FILE_TMPDIR"/{img.dft,meso4.ckpt} .
    stalled_run "$1" "png.tmp.*/*.png" cam -m meso4.ckpt --png png -o out.dft
    [ ! -e out.dft ] && [ ! -e png ]
    cam -m meso4.ckpt --png png -o out.dft < img.dft
    cmp out.dft "$BATS_FILE_TMPDIR/ref.cam.dft"
    diff -r png "$BATS_FILE_TMPDIR/ref.png"
    assert_no_temporaries .
}
@test "cam: SIGINT mid-stream, then the rerun" { cam_case INT; }
@test "cam: SIGTERM mid-stream, then the rerun" { cam_case TERM; }
@test "cam: SIGKILL mid-stream, then the rerun removes the dead run's temporaries" { cam_case KILL; }

# ---- ace (reads all images before it opens its output) ----
ace_case() {
    cp "$BATS_FILE_TMPDIR"/{img.dft,meso4.ckpt} .
    stalled_run "$1" "" ace -m meso4.ckpt "${ACE_ARGS[@]}" -o out.tsv
    [ ! -e out.tsv ]
    ace -m meso4.ckpt "${ACE_ARGS[@]}" -o out.tsv < img.dft
    cmp out.tsv "$BATS_FILE_TMPDIR/ref.ace.tsv"
    assert_no_temporaries .
}
@test "ace: SIGINT mid-stream, then the rerun" { ace_case INT; }
@test "ace: SIGTERM mid-stream, then the rerun" { ace_case TERM; }
@test "ace: SIGKILL mid-stream, then the rerun" { ace_case KILL; }

# ---- train ----
train_case() {
    local sig=$1 pid st=0 i
    cp "$BATS_FILE_TMPDIR"/{img.dft,val.dft} .
    train "${TRAIN_ARGS[@]}" -q -o m.ckpt &
    pid=$!
    for ((i = 0; i < 1000; i++)); do
        [ -f m.last.ckpt ] && break
        sleep 0.005
    done
    catching "$pid"
    kill -s "$sig" "$pid"
    wait "$pid" || st=$?
    [ "$st" -eq $((128 + $(signum "$sig"))) ] || fail "exit status $st, not killed by SIG$sig"
    if [ "$sig" != KILL ]; then assert_no_temporaries .; fi
    [ -f m.last.ckpt ]
    run --separate-stderr train "${TRAIN_ARGS[@]}" -o m.ckpt --resume
    assert_success
    [[ "${stderr_lines[0]}" == "train: resuming after epoch "* ]] || fail "did not resume: $stderr"
    cmp m.ckpt "$BATS_FILE_TMPDIR/ref.ckpt"
    cmp m.last.ckpt "$BATS_FILE_TMPDIR/ref.last.ckpt"
    assert_no_temporaries .
}
@test "train: SIGINT after an epoch, then --resume" { train_case INT; }
@test "train: SIGTERM after an epoch, then --resume" { train_case TERM; }
@test "train: SIGKILL after an epoch, then --resume" { train_case KILL; }

# ---- pack --unpack: the temporary directory goes with the signal ----
@test "pack --unpack: SIGINT and SIGTERM remove DIR.tmp.PID; after SIGKILL the rerun does" {
    cp "$BATS_FILE_TMPDIR/img.dft" .
    pack --unpack ref img.dft
    stalled_run INT "dir.tmp.*/fs/*/*.png" pack --unpack dir
    stalled_run TERM "dir.tmp.*/fs/*/*.png" pack --unpack dir
    [ ! -e dir ]
    stalled_run KILL "dir.tmp.*/fs/*/*.png" pack --unpack dir
    compgen -G "dir.tmp.*" > /dev/null   # SIGKILL cannot be caught: the directory stays...
    pack --unpack dir < img.dft          # ...until the next run
    diff -r dir ref
    assert_no_temporaries .
}

# ---- train --resume when the best checkpoint is gone; a NaN before any epoch completed ----
@test "train --resume: a deleted best checkpoint is rewritten when the last epoch is the best" {
    cp "$BATS_FILE_TMPDIR"/{img.dft,val.dft} .
    local args=(--arch meso4 --train img.dft --val val.dft --batch 4 --threads 1 -q)
    train "${args[@]}" --epochs 1 -o m.ckpt
    mv m.ckpt ref.ckpt
    # no epoch left to run: the run still ends with its -o, the bytes epoch 1 wrote
    run train "${args[@]}" --epochs 1 -o m.ckpt --resume
    assert_success
    cmp m.ckpt ref.ckpt
    rm m.ckpt
    run train "${args[@]}" --epochs 2 -o m.ckpt --resume
    assert_success
    [ -f m.ckpt ]
    assert_no_temporaries .
}

@test "train --resume: a deleted best checkpoint of an earlier epoch is refused before training" {
    cp "$BATS_FILE_TMPDIR"/{img.dft,val.dft} .
    # 4 images, one batch, 0.5 validation accuracy from epoch 1 on: the best stays epoch 1
    local args=(--arch meso4 --train img.dft --val val.dft --batch 8 --threads 1 -q)
    pack --take 4 img.dft -o four.dft
    args[3]=four.dft
    train "${args[@]}" --epochs 2 -o m.ckpt
    grep -a -q '^best_epoch=1$' m.last.ckpt || fail "the setting no longer makes epoch 1 the best"
    grep -a -q '^epoch=2$' m.last.ckpt
    rm m.ckpt
    cp m.last.ckpt before.ckpt
    bad train m.ckpt "the best epoch (1) is not the last saved one (2 in m.last.ckpt)" -- \
        train "${args[@]}" --epochs 3 -o m.ckpt --resume
    cmp m.last.ckpt before.ckpt
}

@test "train: a NaN loss in epoch 1 names no checkpoint; in epoch 2 it names the last" {
    cp "$BATS_FILE_TMPDIR"/{img.dft,val.dft} .
    local args=(--arch meso4 --train img.dft --val val.dft --threads 1 --lr 1e30 -q --epochs 3)
    bad train "" "epoch 1 step 2: loss is nan (stopped; no epoch completed, so no checkpoint was written)" -- \
        train "${args[@]}" --batch 1 -o t.ckpt
    run --separate-stderr train "${args[@]}" --batch 32 -o u.ckpt
    assert_failure
    assert_equal "$stderr" "train: epoch 2 step 1: loss is nan (stopped; the last completed epoch, 1, is in u.last.ckpt)"
    grep -a -q '^epoch=1$' u.last.ckpt
}

# ---- two trainings into one output set ----
@test "train: a second run into the same output set is refused, naming the first's pid" {
    cp "$BATS_FILE_TMPDIR"/{img.dft,val.dft} .
    train "${TRAIN_ARGS[@]}" -q -o m.ckpt &
    local pid=$! i
    for ((i = 0; i < 2000; i++)); do
        [ -s m.lock ] && break
        sleep 0.005
    done
    [ "$(cat m.lock)" = "$pid" ]
    run --separate-stderr train "${TRAIN_ARGS[@]}" --seed 7 -q -o m.ckpt
    assert_failure
    assert_equal "$stderr" "train: m.lock: pid $pid is writing the same outputs; wait for it to end, or stop it"
    # the second run wrote nothing: the first ends as if alone
    wait "$pid"
    cmp m.ckpt "$BATS_FILE_TMPDIR/ref.ckpt"
    cmp m.last.ckpt "$BATS_FILE_TMPDIR/ref.last.ckpt"
    cmp <(cut -f1-5 m.log.tsv) <(cut -f1-5 "$BATS_FILE_TMPDIR/ref.log.tsv")
    [ ! -e m.lock ]
    assert_no_temporaries .
}

@test "train: a lock left by a killed run is stale and taken over" {
    cp "$BATS_FILE_TMPDIR"/{img.dft,val.dft} .
    sh -c 'echo $$ > m.lock'   # the pid of a process that has ended, holding no lock
    run train "${TRAIN_ARGS[@]}" --epochs 1 -q -o m.ckpt
    assert_success
    [ -f m.ckpt ] && [ ! -e m.lock ]
    # a failing run removes its lock too
    run train "${TRAIN_ARGS[@]}" --epochs 1 --val nothere.dft -q -o m.ckpt
    assert_failure
    [ ! -e m.lock ]
}
