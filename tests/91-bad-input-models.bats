#!/usr/bin/env bats
# The bad-input matrix, part 2: the tools that read checkpoints (train, predict, cam, ace); part 1
# is tests/90-bad-input.bats, whose notes apply. "data" is the image stream, "ckpt" the checkpoint
# (-m, or train's --from and the STEM.last.ckpt of --resume).
#
#   cell                              train predict cam   ace
#   missing data / ckpt                x x   x x    x x   x x
#   empty data / ckpt                  x x   ok x   ok x  x x     ok: a valid, empty stream
#   truncated data / ckpt              x x   x x    x x   x x
#   wrong magic data / ckpt            x x   x x    x x   x x
#   not a checkpoint (a data stream)     x     x      x     x
#   wrong dtype (f32) / image size     x x   x x    x x   x x
#   NaN / Inf in the weights             x     x      x     x
#   checkpoint of another architecture   x     x      x     x    train: --from and --resume
#   unknown flag                         x     x      x     x
#   unwritable output directory          x     x      x     x
#   full disk                            x     x      x     x
#   cam --sheet (heatmap streams in, a PNG out): missing, truncated, wrong dtype, unwritable, full
# NaN/Inf in the data: images are u8, so there is no such cell here (ssim and score have it).
load badinput

setup_file() {
    make_fixtures
    local d=$BATS_FILE_TMPDIR r0 s0
    # a meso4 checkpoint whose first weight is NaN, one whose last weight is +Inf
    cp "$d/meso4.ckpt" "$d/nan.ckpt"
    r0=$(rec_len "$d/nan.ckpt" 0)
    patch "$d/nan.ckpt" "$(payload_at "$d/nan.ckpt" "$r0")" '\x00\x00\xc0\x7f'
    cp "$d/meso4.ckpt" "$d/inf.ckpt"
    patch "$d/inf.ckpt" $(($(stat -c %s "$d/inf.ckpt") - 8)) '\x00\x00\x80\x7f'
    # another architecture: meso4's model record in front of shallownet's tensors (found by name),
    # and shallownet's in front of meso4's (far too small for shallownet: found by size)
    s0=$(rec_len "$d/shallow.ckpt" 0)
    { head -c "$r0" "$d/meso4.ckpt"; tail -c +$((s0 + 1)) "$d/shallow.ckpt"; } > "$d/other.ckpt"
    { head -c "$s0" "$d/shallow.ckpt"; tail -c +$((r0 + 1)) "$d/meso4.ckpt"; } > "$d/other2.ckpt"
    # f32 "images" and images of the wrong size
    f32s half $((32 * 32 * 3)) > "$d/p.bin"
    record 9 1 'key=fs/a/f00\ndataset=fs\n' "$d/p.bin" 32 32 3 > "$d/f32.dft"
    rm "$d/p.bin"
    "$ROOT/bin/synth" --role fs --videos 2 --frames 1 --size 48 --seed 3 > "$d/img48.dft"
    # a training run's state, for --resume
    (cd "$d" && "$ROOT/bin/train" --arch meso4 --train img.dft --val val.dft -o run.ckpt --epochs 1 --batch 4 -q)
}

TRAIN_ARGS=(--epochs 1 --batch 4 -q)
ACE_ARGS=(--batches 1 --batch 2 --steps 2)

# ---- train ----
@test "train: missing data" {
    fixture val.dft
    bad train nothere.dft "No such file or directory" -- train --arch meso4 --train nothere.dft --val val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: missing checkpoint (--from)" {
    fixture img.dft val.dft
    bad train nothere.ckpt "No such file or directory" -- train --from nothere.ckpt --mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: empty data" {
    fixture val.dft
    : > empty.dft
    bad train empty.dft "no records" -- train --arch meso4 --train empty.dft --val val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: empty checkpoint (--from)" {
    fixture img.dft val.dft
    : > empty.ckpt
    bad train empty.ckpt "empty file, not a checkpoint" -- train --from empty.ckpt --mode merge --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: truncated data" {
    fixture img.dft val.dft
    head -c 5000 img.dft > cut.dft
    bad train cut.dft "record 1: truncated payload" -- train --arch meso4 --train cut.dft --val val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: truncated checkpoint (--resume)" {
    fixture img.dft val.dft run.last.ckpt
    head -c 100000 run.last.ckpt > m.last.ckpt
    rm run.last.ckpt
    bad train m.last.ckpt "truncated payload" -- train --arch meso4 --train img.dft --val val.dft -o m.ckpt --resume --epochs 2 --batch 4 -q
}

@test "train: wrong magic in data and in the checkpoint" {
    fixture img.dft val.dft meso4.ckpt
    patch val.dft 0 'X'
    bad train val.dft "record 0: bad magic" -- train --arch meso4 --train img.dft --val val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
    patch meso4.ckpt 0 'X'
    fixture val.dft
    bad train meso4.ckpt "record 0: bad magic" -- train --from meso4.ckpt --mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: a data stream as the checkpoint" {
    fixture img.dft val.dft
    bad train img.dft "not a dfstudy checkpoint" -- train --from img.dft --mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: wrong dtype and wrong image size" {
    fixture img.dft val.dft f32.dft img48.dft meso4.ckpt
    bad train f32.dft "f32" -- train --arch meso4 --train f32.dft --val val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
    bad train img48.dft "48x48" -- train --from meso4.ckpt --mode transfer --train img48.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: NaN and Inf in the weights" {
    fixture img.dft val.dft nan.ckpt inf.ckpt
    bad train nan.ckpt "tensor block1.conv.weight holds NaN or Inf (element 0)" -- train --from nan.ckpt --mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
    bad train inf.ckpt "holds NaN or Inf" -- train --from inf.ckpt --mode merge --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: checkpoint of another architecture (--from, --resume)" {
    fixture img.dft val.dft other.ckpt shallow.ckpt
    bad train other.ckpt "expected tensor block1.conv.weight, found 'block1.conv1.weight'" -- train --from other.ckpt --mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
    mv shallow.ckpt m.last.ckpt
    bad train m.last.ckpt "checkpoint is for architecture shallownet, not meso4" -- train --arch meso4 --train img.dft --val val.dft -o m.ckpt --resume "${TRAIN_ARGS[@]}"
}

@test "train: unknown flag" {
    bad train "" "'--bogus'" -- train --bogus
}

@test "train: unwritable output directory" {
    fixture img.dft val.dft
    readonly_dir ro
    bad train ro/m "Read-only file system" -- train --arch meso4 --train img.dft --val val.dft -o ro/m.ckpt "${TRAIN_ARGS[@]}"
}

@test "train: full disk" {
    fixture img.dft val.dft
    full_dir full
    bad train full/m "No space left on device" -- train --arch meso4 --train img.dft --val val.dft -o full/m.ckpt "${TRAIN_ARGS[@]}"
}

# ---- predict ----
@test "predict: missing data and missing checkpoint" {
    fixture img.dft meso4.ckpt
    bad predict nothere.dft "No such file or directory" -- predict -m meso4.ckpt nothere.dft -o out.tsv
    bad predict nothere.ckpt "No such file or directory" -- predict -m nothere.ckpt img.dft -o out.tsv
}

@test "predict: empty data is an empty stream" {
    fixture meso4.ckpt
    : > empty.dft
    run predict -m meso4.ckpt empty.dft -o out.tsv
    assert_success
    [ "$(cat out.tsv)" = "$(printf 'key\tdataset\tlabel\tp_fake')" ]
}

@test "predict: empty checkpoint" {
    fixture img.dft
    : > empty.ckpt
    bad predict empty.ckpt "empty file, not a checkpoint" -- predict -m empty.ckpt img.dft -o out.tsv
}

@test "predict: truncated data and truncated checkpoint" {
    fixture img.dft meso4.ckpt
    head -c 5000 img.dft > cut.dft
    head -c 30000 meso4.ckpt > cut.ckpt
    bad predict cut.dft "record 1: truncated payload" -- predict -m meso4.ckpt cut.dft -o out.tsv
    bad predict cut.ckpt "truncated" -- predict -m cut.ckpt img.dft -o out.tsv
}

@test "predict: wrong magic in data and in the checkpoint" {
    fixture img.dft meso4.ckpt
    cp img.dft bad.dft
    patch bad.dft 0 'X'
    cp meso4.ckpt bad.ckpt
    patch bad.ckpt 0 'X'
    bad predict bad.dft "record 0: bad magic" -- predict -m meso4.ckpt bad.dft -o out.tsv
    bad predict bad.ckpt "record 0: bad magic" -- predict -m bad.ckpt img.dft -o out.tsv
}

@test "predict: a data stream as the checkpoint" {
    fixture img.dft
    bad predict img.dft "not a dfstudy checkpoint" -- predict -m img.dft img.dft -o out.tsv
}

@test "predict: wrong dtype and wrong image size" {
    fixture meso4.ckpt f32.dft img48.dft
    bad predict f32.dft "record 0" -- predict -m meso4.ckpt f32.dft -o out.tsv
    bad predict img48.dft "48x48" -- predict -m meso4.ckpt img48.dft -o out.tsv
}

@test "predict: NaN and Inf in the weights" {
    fixture img.dft nan.ckpt inf.ckpt
    bad predict nan.ckpt "holds NaN or Inf (element 0)" -- predict -m nan.ckpt img.dft -o out.tsv
    bad predict inf.ckpt "holds NaN or Inf" -- predict -m inf.ckpt img.dft -o out.tsv
}

@test "predict: checkpoint of another architecture" {
    fixture img.dft other.ckpt other2.ckpt
    bad predict other.ckpt "found 'block1.conv1.weight'" -- predict -m other.ckpt img.dft -o out.tsv
    bad predict other2.ckpt "record 0 names shallownet at size 32" -- predict -m other2.ckpt img.dft -o out.tsv
}

@test "predict: unknown flag" {
    bad predict "" "'--bogus'" -- predict --bogus
}

@test "predict: unwritable output directory" {
    fixture img.dft meso4.ckpt
    readonly_dir ro
    bad predict ro/out.tsv "Read-only file system" -- predict -m meso4.ckpt img.dft -o ro/out.tsv
}

@test "predict: full disk" {
    fixture img.dft meso4.ckpt
    full_dir full
    bad predict full/out.tsv "No space left on device" -- predict -m meso4.ckpt img.dft -o full/out.tsv
}

# ---- cam (reads the images from stdin) ----
@test "cam: missing checkpoint" {
    fixture img.dft
    bad cam nothere.ckpt "No such file or directory" -- sh -c 'cam -m nothere.ckpt -o out.dft < img.dft'
}

@test "cam: empty data is an empty stream" {
    fixture meso4.ckpt
    run sh -c 'cam -m meso4.ckpt -o out.dft < /dev/null'
    assert_success
    [ -f out.dft ] && [ ! -s out.dft ]
}

@test "cam: empty checkpoint" {
    fixture img.dft
    : > empty.ckpt
    bad cam empty.ckpt "empty file, not a checkpoint" -- sh -c 'cam -m empty.ckpt -o out.dft < img.dft'
}

@test "cam: truncated data and truncated checkpoint" {
    fixture img.dft meso4.ckpt
    head -c 5000 img.dft > cut.dft
    head -c 30000 meso4.ckpt > cut.ckpt
    bad cam "<stdin>" "record 1: truncated payload" -- sh -c 'cam -m meso4.ckpt -o out.dft < cut.dft'
    bad cam cut.ckpt "truncated" -- sh -c 'cam -m cut.ckpt -o out.dft < img.dft'
}

@test "cam: wrong magic in data and in the checkpoint" {
    fixture img.dft meso4.ckpt
    cp img.dft bad.dft
    patch bad.dft 0 'X'
    cp meso4.ckpt bad.ckpt
    patch bad.ckpt 0 'X'
    bad cam "<stdin>" "record 0: bad magic" -- sh -c 'cam -m meso4.ckpt -o out.dft < bad.dft'
    bad cam bad.ckpt "record 0: bad magic" -- sh -c 'cam -m bad.ckpt -o out.dft < img.dft'
}

@test "cam: a data stream as the checkpoint" {
    fixture img.dft
    bad cam img.dft "not a dfstudy checkpoint" -- sh -c 'cam -m img.dft -o out.dft < img.dft'
}

@test "cam: wrong dtype and wrong image size" {
    fixture meso4.ckpt f32.dft img48.dft
    bad cam "<stdin>" "record 0: not an RGB u8 (H, W, 3) image" -- sh -c 'cam -m meso4.ckpt -o out.dft < f32.dft'
    bad cam "<stdin>" "48x48" -- sh -c 'cam -m meso4.ckpt -o out.dft < img48.dft'
}

@test "cam: NaN and Inf in the weights" {
    fixture img.dft nan.ckpt inf.ckpt
    bad cam nan.ckpt "holds NaN or Inf (element 0)" -- sh -c 'cam -m nan.ckpt -o out.dft < img.dft'
    bad cam inf.ckpt "holds NaN or Inf" -- sh -c 'cam -m inf.ckpt -o out.dft < img.dft'
}

@test "cam: checkpoint of another architecture" {
    fixture img.dft other.ckpt other2.ckpt
    bad cam other.ckpt "found 'block1.conv1.weight'" -- sh -c 'cam -m other.ckpt -o out.dft < img.dft'
    bad cam other2.ckpt "record 0 names shallownet at size 32" -- sh -c 'cam -m other2.ckpt -o out.dft < img.dft'
}

@test "cam: unknown flag" {
    bad cam "" "'--bogus'" -- cam --bogus
}

@test "cam: unwritable output directory" {
    fixture img.dft meso4.ckpt
    readonly_dir ro
    bad cam ro/out.dft "Read-only file system" -- sh -c 'cam -m meso4.ckpt -o ro/out.dft < img.dft'
    bad cam ro/png "Read-only file system" -- sh -c 'cam -m meso4.ckpt --png ro/png -o out.dft < img.dft'
}

@test "cam: full disk" {
    fixture img.dft meso4.ckpt
    full_dir full
    bad cam full/out.dft "No space left on device" -- sh -c 'cam -m meso4.ckpt -o full/out.dft < img.dft'
    bad cam full/png "No space left on device" -- sh -c 'cam -m meso4.ckpt --png full/png -o out.dft < img.dft'
}

# ---- ace ----
@test "ace: missing data and missing checkpoint" {
    fixture img.dft shallow.ckpt
    bad ace nothere.dft "No such file or directory" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" nothere.dft -o out.tsv
    bad ace nothere.ckpt "No such file or directory" -- ace -m nothere.ckpt "${ACE_ARGS[@]}" img.dft -o out.tsv
}

@test "ace: empty data and empty checkpoint" {
    fixture img.dft shallow.ckpt
    : > empty.dft
    : > empty.ckpt
    bad ace empty.dft "no images" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" empty.dft -o out.tsv
    bad ace empty.ckpt "empty file, not a checkpoint" -- ace -m empty.ckpt "${ACE_ARGS[@]}" img.dft -o out.tsv
}

@test "ace: truncated data and truncated checkpoint" {
    fixture img.dft shallow.ckpt
    head -c 5000 img.dft > cut.dft
    head -c 300000 shallow.ckpt > cut.ckpt
    bad ace cut.dft "record 1: truncated payload" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" cut.dft -o out.tsv
    bad ace cut.ckpt "truncated" -- ace -m cut.ckpt "${ACE_ARGS[@]}" img.dft -o out.tsv
}

@test "ace: wrong magic in data and in the checkpoint" {
    fixture img.dft shallow.ckpt
    cp img.dft bad.dft
    patch bad.dft 0 'X'
    cp shallow.ckpt bad.ckpt
    patch bad.ckpt 0 'X'
    bad ace bad.dft "record 0: bad magic" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" bad.dft -o out.tsv
    bad ace bad.ckpt "record 0: bad magic" -- ace -m bad.ckpt "${ACE_ARGS[@]}" img.dft -o out.tsv
}

@test "ace: a data stream as the checkpoint" {
    fixture img.dft
    bad ace img.dft "not a dfstudy checkpoint" -- ace -m img.dft "${ACE_ARGS[@]}" img.dft -o out.tsv
}

@test "ace: wrong dtype and wrong image size" {
    fixture shallow.ckpt f32.dft img48.dft
    bad ace f32.dft "record 0: expected a u8 32x32x3 image" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" f32.dft -o out.tsv
    bad ace img48.dft "expected a u8 32x32x3 image" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" img48.dft -o out.tsv
}

@test "ace: NaN and Inf in the weights" {
    fixture img.dft nan.ckpt inf.ckpt
    bad ace nan.ckpt "holds NaN or Inf (element 0)" -- ace -m nan.ckpt --layer block4.relu "${ACE_ARGS[@]}" img.dft -o out.tsv
    bad ace inf.ckpt "holds NaN or Inf" -- ace -m inf.ckpt --layer block4.relu "${ACE_ARGS[@]}" img.dft -o out.tsv
}

@test "ace: checkpoint of another architecture" {
    fixture img.dft other.ckpt other2.ckpt
    bad ace other.ckpt "found 'block1.conv1.weight'" -- ace -m other.ckpt "${ACE_ARGS[@]}" img.dft -o out.tsv
    bad ace other2.ckpt "record 0 names shallownet at size 32" -- ace -m other2.ckpt "${ACE_ARGS[@]}" img.dft -o out.tsv
}

@test "ace: unknown flag" {
    bad ace "" "'--bogus'" -- ace --bogus
}

@test "ace: unwritable output directory" {
    fixture img.dft shallow.ckpt
    readonly_dir ro
    bad ace ro/out.tsv "Read-only file system" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" img.dft -o ro/out.tsv
}

@test "ace: full disk" {
    fixture img.dft shallow.ckpt
    full_dir full
    bad ace full/out.tsv "No space left on device" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" img.dft -o full/out.tsv
}

# ---- cam --sheet (draws existing heatmap streams; no checkpoint) ----
make_heat() {
    fixture img.dft meso4.ckpt
    cam -m meso4.ckpt -o heat.dft < img.dft
    rm img.dft meso4.ckpt
}

@test "cam --sheet: missing, truncated and wrong-dtype heatmap streams" {
    make_heat
    head -c 5000 heat.dft > cut.dft
    head -c 4096 /dev/zero > p.bin
    record 5 1 'key=a/b/f00\n' p.bin 32 32 > i32.dft
    rm p.bin
    bad cam nothere.dft "No such file or directory" -- cam --sheet out.png r,c=nothere.dft
    bad cam cut.dft "record 1: truncated payload" -- cam --sheet out.png r,c=cut.dft
    bad cam i32.dft "i32" -- cam --sheet out.png r,c=i32.dft
}

@test "cam --sheet: unwritable output directory" {
    make_heat
    readonly_dir ro
    bad cam ro/out.png "Read-only file system" -- cam --sheet ro/out.png r,c=heat.dft
}

@test "cam --sheet: full disk" {
    make_heat
    full_dir full
    bad cam full/out.png "No space left on device" -- cam --sheet full/out.png r,c=heat.dft
}

# ---- an output that is an input: refused before anything is written ----
@test "train, predict, cam, ace: an output that is an input is refused" {
    fixture img.dft val.dft meso4.ckpt shallow.ckpt
    ln meso4.ckpt hard.ckpt
    local stage2=(--mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft)
    bad train val.dft "is also the input val.dft" -- train --arch meso4 --train img.dft --val val.dft -o val.dft "${TRAIN_ARGS[@]}"
    bad train img.dft "is also the input img.dft" -- train --arch meso4 --train img.dft --val val.dft -o m.ckpt --log img.dft "${TRAIN_ARGS[@]}"
    bad train hard.ckpt "is also the input meso4.ckpt" -- train --from meso4.ckpt "${stage2[@]}" -o hard.ckpt "${TRAIN_ARGS[@]}"
    bad predict meso4.ckpt "is also the input meso4.ckpt" -- predict -m meso4.ckpt img.dft -o meso4.ckpt
    bad predict ./img.dft "is also the input img.dft" -- predict -m meso4.ckpt img.dft -o ./img.dft
    bad cam hard.ckpt "is also the input meso4.ckpt" -- sh -c 'cam -m meso4.ckpt -o hard.ckpt < img.dft'
    bad ace img.dft "is also the input img.dft" -- ace -m shallow.ckpt "${ACE_ARGS[@]}" img.dft -o img.dft
}

# ---- a checkpoint from a pipe, a FIFO or process substitution ----
@test "predict, cam, ace: the checkpoint from process substitution or a FIFO" {
    fixture img.dft meso4.ckpt shallow.ckpt
    predict -m meso4.ckpt img.dft -o want.tsv
    run predict -m <(cat meso4.ckpt) img.dft -o got.tsv
    assert_success
    cmp want.tsv got.tsv
    mkfifo m.fifo
    cat meso4.ckpt > m.fifo &
    run timeout 60 predict -m m.fifo img.dft -o fifo.tsv
    assert_success
    cmp want.tsv fifo.tsv
    cam -m meso4.ckpt -o want.dft < img.dft
    run sh -c 'cam -m "$1" -o got.dft < img.dft' sh <(cat meso4.ckpt)
    assert_success
    cmp want.dft got.dft
    ace -m shallow.ckpt "${ACE_ARGS[@]}" img.dft -o want-ace.tsv
    run ace -m <(cat shallow.ckpt) "${ACE_ARGS[@]}" img.dft -o got-ace.tsv
    assert_success
    cmp want-ace.tsv got-ace.tsv
    assert_no_temporaries .
}

@test "train --from: the checkpoint from a FIFO; errors name the FIFO" {
    fixture img.dft val.dft meso4.ckpt
    local stage2=(--mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft --steps 1)
    train --from meso4.ckpt "${stage2[@]}" -o want.ckpt "${TRAIN_ARGS[@]}"
    mkfifo m.fifo
    cat meso4.ckpt > m.fifo &
    run timeout 120 train --from m.fifo "${stage2[@]}" -o got.ckpt "${TRAIN_ARGS[@]}"
    assert_success
    cmp want.ckpt got.ckpt
    rm want.ckpt got.ckpt got.log.tsv want.log.tsv got.last.ckpt want.last.ckpt
    head -c 30000 meso4.ckpt > cut.ckpt
    cat cut.ckpt > m.fifo &
    bad train m.fifo "truncated" -- timeout 60 train --from m.fifo "${stage2[@]}" -o got.ckpt "${TRAIN_ARGS[@]}"
    [[ "$stderr" != *"/proc/"* ]]
}

# ---- batchnorm statistics: a negative running variance is refused like NaN/Inf ----
# neg_var IN OUT: IN with the first element of its first running_var tensor set to -1
neg_var() {
    local off=0 len m
    cp "$1" "$2"
    while [ "$off" -lt "$(stat -c %s "$2")" ]; do
        len=$(rec_len "$2" "$off")
        m=$(dd if="$2" bs=1 skip=$((off + 128)) count="$(u32_at "$2" $((off + 12)))" status=none)
        if [[ "$m" == *"running_var"* ]]; then
            patch "$2" "$(payload_at "$2" "$off")" '\x00\x00\x80\xbf'
            return 0
        fi
        off=$((off + len))
    done
    return 1
}

@test "predict, cam, ace, train: a negative batchnorm variance in the checkpoint" {
    fixture img.dft val.dft meso4.ckpt
    neg_var meso4.ckpt neg.ckpt
    local t="running_var holds a negative variance (element 0: -1)"
    bad predict neg.ckpt "$t" -- predict -m neg.ckpt img.dft -o out.tsv
    bad cam neg.ckpt "$t" -- sh -c 'cam -m neg.ckpt -o out.dft < img.dft'
    bad ace neg.ckpt "$t" -- ace -m neg.ckpt --layer block4.relu "${ACE_ARGS[@]}" img.dft -o out.tsv
    bad train neg.ckpt "$t" -- train --from neg.ckpt --mode transfer --train img.dft --mix img.dft --val val.dft --val-mix val.dft -o m.ckpt "${TRAIN_ARGS[@]}"
}

# ---- output names that collide ----
@test "cam --png: two keys that make one PNG name, or one key twice, are refused" {
    fixture meso4.ckpt
    head -c $((32 * 32 * 3)) /dev/urandom > p.bin
    { record 1 1 'key=a/b_c\n' p.bin 32 32 3; record 1 0 'key=a_b/c\n' p.bin 32 32 3; } > clash.dft
    { record 1 1 'key=a/b_c\n' p.bin 32 32 3; record 1 1 'key=a/b_c\n' p.bin 32 32 3; } > twice.dft
    rm p.bin
    bad cam "record 1" "key 'a_b/c' gives the PNG name a_b_c.png, already written for record 0" -- \
        sh -c 'cam -m meso4.ckpt --png png -o out.dft < clash.dft'
    bad cam "record 1" "key 'a/b_c' gives the PNG name a_b_c.png, already written for record 0" -- \
        sh -c 'cam -m meso4.ckpt --png png -o out.dft < twice.dft'
}

# ---- messages that name the right thing (#20 item 9) ----
@test "predict: a disk that fills while the scores stream out names the -o file, not <stdout>" {
    fixture img.dft meso4.ckpt
    local i
    for ((i = 0; i < 60; i++)); do cat img.dft; done > big.dft   # 240 lines of scores: past stdio's buffer
    full_dir full
    bad predict full/out.tsv "full/out.tsv: write failed: No space left on device" -- predict -m meso4.ckpt big.dft -o full/out.tsv
    [[ "$stderr" != *"<stdout>"* ]]
}
