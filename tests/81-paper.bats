#!/usr/bin/env bats
# The paper profile (real data) end to end on a miniature DATA tree made of synth MP4s
# (tests/dataset-trees.bash), every size overridden tiny on the make command line: manifests,
# samples, frame extraction, crops, trainings, tables, RQ3, RQ4 and report.md.
load helper
load dataset-trees

# Tiny sizes: 2 frames per video, 32 px crops, one epoch; the trees hold 3 to 16 videos per set.
TINY=(SIZE=32 FRAMES=2 MIN_FACE=20 TRAIN_IMAGES=16 VAL_IMAGES=8 TEST_IMAGES=8 AUG_IMAGES_train=8
      AUG_IMAGES_val=4 EPOCHS1=1 EPOCHS23=1 BATCH1=4 BATCH23=4 STEPS=1 "ARCHS=meso4 shallownet"
      CAM_FAKES=1 SHEET_FAKES=1 SHEET_TILE=32 ACE_BATCHES=1 ACE_BATCH=2 ACE_TOP=64,128 THREADS=1)

setup_file() {
    local d="$BATS_FILE_TMPDIR"
    mkdir -p "$d/trees" "$d/DATA"
    make_dataset_trees "$d/trees"
    # DATA as the paper profile expects it; DFD ships inside FaceForensics++, here beside it
    ln -s "$d/trees/ff" "$d/DATA/FaceForensics++"
    ln -s "$d/trees/cdf" "$d/DATA/Celeb-DF-v2"
    ln -s "$d/trees/cdf" "$d/DATA/Celeb-DF"
    export RUNS="$d/runs"
    make -C "$ROOT" --no-print-directory -f pipelines/study.mk -j2 PROFILE=paper DATA="$d/DATA" \
        DFD_ROOT="$d/trees/dfd" RUNS="$RUNS" BIN="$BIN" "${TINY[@]}" > "$d/run.log" 2>&1 || true
}

paper() {
    make -C "$ROOT" --no-print-directory -f pipelines/study.mk PROFILE=paper DATA="$BATS_FILE_TMPDIR/DATA" \
        DFD_ROOT="$BATS_FILE_TMPDIR/trees/dfd" RUNS="$RUNS" BIN="$BIN" "${TINY[@]}" "$@"
}

@test "paper profile: the whole study runs on real-layout data through report.md" {
    local R="$RUNS/paper" t
    [ -s "$R/report.md" ] || { cat "$BATS_FILE_TMPDIR/run.log"; fail "no report.md"; }
    for t in 4 5 6 7; do [ -s "$R/tables/table$t.tsv" ]; done
    [ -s "$R/figures/cams.png" ]
    [ "$(ls "$R/rq4/ace" | grep -c '\.tsv$')" -eq 9 ]
    grep -q '^> \*\*Real data\*\*' "$R/report.md"
    run grep -c 'SYNTHETIC' "$R/report.md"
    assert_output 0
    grep -q '^## Comparison with the published numbers$' "$R/report.md"
    # the overrides are the settings the report shows
    grep -qx 'TRAIN_IMAGES = 16' "$R/report.md"
    grep -qx 'ARCHS = meso4 shallownet' "$R/report.md"
    # 12 detectors with an accuracy on their own test set
    run awk -F'\t' 'NR > 1 && $6 ~ /^[0-9.]+$/' "$R/tables/table4.tsv"
    assert_equal "${#lines[@]}" 12
    # a second run does nothing
    run paper
    assert_success
    assert_output --partial "Nothing to be done for 'study'"
}

@test "paper profile: each set is drawn from its dataset's split, balanced, labelled from the manifest" {
    local R="$RUNS/paper"
    # the test sets' frames come from the named datasets' test splits (DFD: all of it; FS-I: F2F's
    # training identities 000-003)
    run sh -c "pack --list '$R/data/test/CELEB.dft' | cut -f2,3 | sed 's|/f0[0-9]	| |' | sort -u"
    assert_line 'celeb/id1_id2_0000 fake'
    run sh -c "pack --list '$R/data/test/CELEB.dft' | cut -f2,3 | sed 's|/f0[0-9]	| |' | sort -u | grep -v ' fake$'"
    assert_output --regexp '^celeb/(00170|id1_0000) real(
celeb/id1_0000 real)?$'
    run sh -c "pack --list '$R/data/test/FS-I.dft' | cut -f2 | cut -d/ -f2 | tr _ '\n' | sort -u | tr '\n' ' '"
    assert_output --regexp '^(00[0-3] )+$'
    run sh -c "pack --list '$R/data/test/F2F.dft' | cut -f2 | cut -d/ -f1-2 | sort -u | tr '\n' ' '"
    assert_output 'f2f/006 f2f/006_007 f2f/007 f2f/007_006 '
    # balanced: as many real as fake frames, at most the wanted number (8), 32x32 crops
    run sh -c "pack --list '$R/data/test/NT.dft' | cut -f3,5 | sort | uniq -c | tr -s ' ' | tr '\n' ';'"
    assert_output ' 4 fake	32x32x3; 4 real	32x32x3;'
    # the training set: F2F's training pairs, 8 real and 8 fake frames
    run sh -c "pack --list '$R/data/train/F2F.dft' | cut -f3 | sort | uniq -c | tr -s ' ' | tr '\n' ';'"
    assert_output ' 8 fake; 8 real;'
    # stages 2/3's FS videos are not FS-I's (the same pool): no video in both
    run bash -c "comm -12 <(tail -n +2 '$R/data/manifests/aug-train-fs.tsv' | cut -f1 | sort) \
                        <(tail -n +2 '$R/data/manifests/test-FS-I.tsv' | cut -f1 | sort)"
    assert_output ''
    [ "$(tail -n +2 "$R/data/manifests/aug-train-fs.tsv" | wc -l)" -ge 2 ]
}

@test "paper profile: without DATA it stops and says what to give" {
    run make -C "$ROOT" --no-print-directory -f pipelines/study.mk PROFILE=paper RUNS="$BATS_TEST_TMPDIR/r"
    assert_failure
    assert_output --partial "PROFILE=paper reads real data: FFPP=/FaceForensics++ is not a directory (give DATA=DIR holding FaceForensics++, Celeb-DF-v2 and Celeb-DF"
}

@test "sample-manifest.sh: a seeded balanced sample in manifest order; errors" {
    local S="$ROOT/pipelines/sample-manifest.sh" i
    { printf 'path\tlabel\tvideo\n'; for i in 01 02 03 04 05 06 07 08; do
        printf '/v/r%s.mp4\treal\tr/r%s\n/v/f%s.mp4\tfake\tf/f%s\n' $i $i $i $i; done; } > m.tsv
    # 8 images of 2 frames: k = ceil(1.25 * 8 / 4) = 3 videos of each label
    run --separate-stderr "$S" m.tsv --images 8 --frames 2 --seed 5
    assert_success
    assert_equal "${lines[0]}" "path${TAB:-	}label	video"
    [ "$(echo "$output" | grep -c '	real	')" -eq 3 ] && [ "$(echo "$output" | grep -c '	fake	')" -eq 3 ]
    # in manifest order, the same for the same seed, another sample for another seed
    assert_equal "$(echo "$output" | tail -n +2 | cut -f1)" "$(echo "$output" | tail -n +2 | cut -f1 | sort -t/ -k3.2,3.3n -s)"
    assert_equal "$output" "$("$S" m.tsv --images 8 --frames 2 --seed 5)"
    local other=0 s
    for s in 1 2 3 4; do [ "$("$S" m.tsv --images 8 --frames 2 --seed $s)" = "$output" ] || other=1; done
    [ "$other" = 1 ]
    # --exclude leaves out the videos of another manifest; too few videos are all taken, said
    head -n 3 m.tsv > ex.tsv
    run --separate-stderr "$S" m.tsv --images 100 --frames 2 --exclude ex.tsv
    assert_success
    [ "$(echo "$output" | tail -n +2 | wc -l)" -eq 14 ]
    refute_line --partial '/v/r01.mp4'
    assert_equal "$stderr" "sample-manifest.sh: m.tsv: 7 real videos, fewer than the 32 wanted: taking all
sample-manifest.sh: m.tsv: 7 fake videos, fewer than the 32 wanted: taking all"
    run --separate-stderr "$S" m.tsv --images 0 --frames 2
    assert_failure
    assert_equal "$stderr" "sample-manifest.sh: --images and --frames need positive whole numbers"
    run --separate-stderr "$S" nosuch.tsv --images 2 --frames 2
    assert_failure
    assert_equal "$stderr" "sample-manifest.sh: nosuch.tsv: no such file"
}

# ---- real dataset trees that used to fail late or silently (#20) ----
# paper_in DATA_DIR DFD_DIR RUNS_DIR [make args...]: the paper profile on other trees
paper_in() {
    local data=$1 dfd=$2 runs=$3
    shift 3
    make -C "$ROOT" --no-print-directory -f pipelines/study.mk PROFILE=paper DATA="$data" DFD_ROOT="$dfd" \
        RUNS="$runs" BIN="$BIN" "${TINY[@]}" "$@"
}

@test "paper profile: a DATA path with a space is refused, saying make cannot take it" {
    mkdir "with space"
    run --separate-stderr paper_in "$TMP/with space" "$BATS_FILE_TMPDIR/trees/dfd" "$TMP/runs" -n
    assert_failure
    [[ "$stderr" == *"DATA='$TMP/with space' holds a space, which make cannot take in a path"* ]] || fail "$stderr"
    [[ "$stderr" != *"is not a directory"* ]]
}

@test "paper profile: a set with no videos stops the study before any extraction or training" {
    cp -r "$BATS_FILE_TMPDIR/trees/dfd" dfd
    rm dfd/original_sequences/actors/c23/videos/*.mp4   # e.g. a folder on an unmounted disk
    run --separate-stderr paper_in "$BATS_FILE_TMPDIR/DATA" "$TMP/dfd" "$TMP/runs" -j2
    assert_failure
    [[ "$stderr" == *"manifest.sh: $TMP/dfd: no real videos for dfd"* ]] || fail "$stderr"
    [ ! -e runs/paper/data/test/DFD.dft ]
    [ -z "$(find runs/paper/data -name '*.dft' 2> /dev/null)" ]
    [ -z "$(ls runs/paper/models 2> /dev/null)" ]
}

@test "paper profile: a split derived without FF++'s splits/ is warned on stderr and in report.md" {
    mkdir DATA
    cp -r "$BATS_FILE_TMPDIR/trees/ff" DATA/FaceForensics++
    rm -r DATA/FaceForensics++/splits
    ln -s "$BATS_FILE_TMPDIR/trees/cdf" DATA/Celeb-DF-v2
    ln -s "$BATS_FILE_TMPDIR/trees/cdf" DATA/Celeb-DF
    local m="$TMP/runs/paper/data/manifests/test-FS-I.tsv"
    run --separate-stderr paper_in "$TMP/DATA" "$BATS_FILE_TMPDIR/trees/dfd" "$TMP/runs" "$m"
    assert_success
    [[ "$stderr" == *"manifest.sh: WARNING: $TMP/DATA/FaceForensics++/splits/{train,val,test}.json missing"* ]] || fail "$stderr"
    grep -q "^manifest.sh: WARNING: .*derived from the fake names" "$m.warnings"
    # report.md's header carries it (the rest of the report needs the whole study)
    mkdir -p rep/data/manifests
    cp "$m.warnings" rep/data/manifests/
    : > rep/settings.txt
    PROFILE=paper PROFILE_FILE=x DATA_SOURCE=real ARCHS=meso4 DETECTORS=MesoNet1 TESTSETS=CELEB OWN_NAMES= \
        ACE_MODEL=x ACE_LAYER=y PARALLELISM=1 PAPER_TABLES="$ROOT/pipelines/paper-tables.tsv" \
        sh "$ROOT/pipelines/study-report.sh" rep > report.md 2> /dev/null || true
    grep -q '^> \*\*manifest.sh: WARNING: .*splits/{train,val,test}.json missing.*\*\*$' report.md
    # with the official lists there is nothing to warn about
    [ ! -s "$RUNS/paper/data/manifests/test-FS-I.tsv.warnings" ]
}

@test "extract-set.sh --min-neighbors reaches crop (MIN_NEIGHBORS in the paper profile)" {
    local R="$RUNS/paper"
    run paper -n "$R/data/test/CELEB.dft" -W "$R/data/manifests/test-CELEB.tsv" MIN_NEIGHBORS=7
    assert_success
    assert_output --partial "--min-neighbors 7"
    run --separate-stderr "$ROOT/pipelines/extract-set.sh" "$R/data/manifests/test-CELEB.tsv" out.dft -n 1 --size 32 --min-neighbors 1000
    [ ! -e out.dft ] || [ ! -s out.dft ] || [ "$(pack --list out.dft | wc -l)" -eq 0 ]
    [[ "$stderr" == *"no face"* ]] || fail "$stderr"
}
