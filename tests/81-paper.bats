#!/usr/bin/env bats
# The paper profile (real data) end to end on a miniature DATA tree made of synth MP4s
# (tests/dataset-trees.bash), every size overridden tiny on the make command line: manifests,
# samples, frame extraction, crops, trainings, tables, RQ3, RQ4 and report.md.
load helper
load dataset-trees

# Tiny sizes: 2 frames per video, 32 px crops, one epoch; the trees hold 3 to 16 videos per set.
# The trees' small synthetic faces are found with the Haar cascade at MIN_FACE=20 (dlib's HOG
# detector, the profile's own, misses some and would leave sets short); the profile's choice of
# detector is checked on its own below. FS-I and NT-I take 4 images (one video of each label), so
# that the two training pairs of the tree leave one pair to the stages 2/3 FS and NT sets.
TINY=(SIZE=32 FRAMES=2 MIN_FACE=20 FACE_DETECTOR=haar TRAIN_IMAGES=16 VAL_IMAGES=8 TEST_IMAGES=8 AUG_IMAGES_train=8
      AUG_IMAGES_val=4 TEST_IMAGES_I=4 EPOCHS1=1 EPOCHS23=1 BATCH1=4 BATCH23=4 STEPS=1 "ARCHS=meso4 shallownet"
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

@test "paper profile: faces are found with dlib's HOG detector (crop --detector hog)" {
    run make -C "$ROOT" --no-print-directory -f pipelines/study.mk -n -B PROFILE=paper DATA="$BATS_FILE_TMPDIR/DATA" \
        DFD_ROOT="$BATS_FILE_TMPDIR/trees/dfd" RUNS="$BATS_TEST_TMPDIR/r" BIN="$BIN" "$BATS_TEST_TMPDIR/r/paper/data/test/CELEB.dft"
    assert_success
    assert_output --partial "--detector hog"
    refute_output --partial "--detector haar"
}

# "id frame" of the real FF++ images of streams (keys PREFIX/NNN/fK): the video file is NNN.mp4
ff_real_frames() {
    pack --list --meta frame "$@" | awk -F'\t' '$3 == "real" { split($2, k, "/"); if (k[2] ~ /^[0-9]+$/) print k[2], $6 }' | sort -u
}

@test "paper profile: no test image is a training or validation image (FS-I/NT-I at other frames)" {
    local R="$RUNS/paper" s
    [ -s "$R/data/sets.tsv" ] || { cat "$BATS_FILE_TMPDIR/run.log"; fail "no data/sets.tsv"; }
    # the check ran over all 15 sets and found nothing
    run awk -F'\t' 'NR > 1 { n++; l += $7 } END { print n, l }' "$R/data/sets.tsv"
    assert_output '15 0'
    # FS-I and NT-I show F2F's training identities: their real videos are F2F's training videos...
    ff_real_frames "$R/data/train/F2F.dft" "$R/data/val/F2F.dft" "$R/data/train/FSNT.dft" "$R/data/val/FSNT.dft" > trained
    for s in FS-I NT-I; do
        ff_real_frames "$R/data/test/$s.dft" > tested
        [ -s tested ] || fail "$s has no real images"
        run comm -12 <(cut -d' ' -f1 tested | sort -u) <(cut -d' ' -f1 trained | sort -u)
        [ -n "$output" ] || fail "$s's real videos are not F2F's training videos: nothing tested"
        # ... but never at a trained frame
        run comm -12 tested trained
        assert_output ''
    done
    # no FS (NT) fake of stages 2/3 is an FS-I (NT-I) fake or its reverse pair
    for s in fs nt; do
        run bash -c "comm -12 <(tail -n +2 '$R/data/manifests/aug-train-$s.tsv' | awk -F'\t' '\$2 == \"fake\"' | cut -f3 | cut -d/ -f2 | awk -F_ '{ print (\$1 < \$2 ? \$1 \"_\" \$2 : \$2 \"_\" \$1) }' | sort -u) \
                            <(tail -n +2 '$R/data/manifests/test-${s^^}-I.tsv' | awk -F'\t' '\$2 == \"fake\"' | cut -f3 | cut -d/ -f2 | awk -F_ '{ print (\$1 < \$2 ? \$1 \"_\" \$2 : \$2 \"_\" \$1) }' | sort -u)"
        assert_output ''
        [ "$(tail -n +2 "$R/data/manifests/aug-train-$s.tsv" | grep -c '	fake	')" -ge 1 ]
    done
}

@test "paper profile: a test image that is a training image fails the study before any training" {
    cp -a "$RUNS" "$BATS_TEST_TMPDIR/runs"
    RUNS="$BATS_TEST_TMPDIR/runs"
    local R="$RUNS/paper"
    # plant one F2F training image in NT-I
    pack --take 1 "$R/data/train/F2F.dft" -o one.dft
    pack "$R/data/test/NT-I.dft" one.dft -o nti.dft && mv nti.dft "$R/data/test/NT-I.dft"   # (pack refuses to overwrite an input)
    local key; key=$(pack --list one.dft | cut -f2)
    rm "$R/models/MesoNet4.ckpt"   # a model to make: the check stops the study before it
    local before; before=$(wc -l < "$R/timings.tsv")
    run paper
    assert_failure
    assert_output --partial "leak-check.sh: 1 test images are training or validation images (the same frame of the same video): test/NT-I: 1"
    assert_output --regexp "leak	test/NT-I	$key	train/F2F	$key	/[^	]*/trees/ff/[^	]*\.mp4	[0-9]+"
    [ ! -e "$R/data/sets.tsv" ] && [ -s "$R/data/sets.tsv.leaks" ]
    [ ! -e "$R/models/MesoNet4.ckpt" ]
    assert_equal "$(tail -n +$((before + 1)) "$R/timings.tsv" | cut -f2 | grep -c '^models/')" 0
}

@test "paper profile: report.md gives every set's size and what CELEB-M left out of Celeb-DF v1" {
    local R="$RUNS/paper"
    grep -q '^## Data: the sets this run trained and tested on$' "$R/report.md"
    # the size of every set as built beside the wanted one; FS-I and NT-I want TEST_IMAGES_I
    grep -qx '| train/F2F | 16 | 16 | 8 | 8 | 8 |' "$R/report.md"
    grep -qx '| train/CELEB | 8 (short) | 16 | 4 | 4 | 5 |' "$R/report.md"
    grep -qx '| test/FS-I | 4 | 4 | 2 | 2 | 2 |' "$R/report.md"
    grep -qx '| val/FSNT | 4 | 4 | 2 | 2 | 4 |' "$R/report.md"
    [ "$(grep -c '^| \(train\|val\|test\)/' "$R/report.md")" -eq 15 ]
    # what each sample could draw from: the F2F training pairs' 4 real and 4 fake videos
    grep -qx '| train-F2F | 8 | 0 | 4 / 4 | 4 / 4 |' "$R/report.md"
    # the tree's v1 is its v2: its test list shares no source video with v2's training and
    # validation videos, but two of its three videos show person 1, a training person
    grep -q "^CELEB-M (Celeb-DF v1's test list: 3 videos) leaves out" "$R/report.md"
    grep -q '^video is one of them): 0 videos left out\.$' "$R/report.md"
    grep -qx '2 of the 3 left.' "$R/report.md"
}

@test "paper profile: CELEB_M_EXCLUDE=identity leaves out Celeb-DF v1 videos of v2's training persons" {
    cp -a "$RUNS" "$BATS_TEST_TMPDIR/runs"
    RUNS="$BATS_TEST_TMPDIR/runs"
    local M="$RUNS/paper/data/manifests"
    rm "$M/test-CELEB-M.tsv"   # a command-line variable does not make a file out of date
    paper CELEB_M_EXCLUDE=identity "$M/test-CELEB-M.tsv"
    run cut -f3 "$M/test-CELEB-M.tsv"
    assert_output "$(printf 'video\nceleb-m/00170')"
    assert_equal "$(cut -f2 "$M/test-CELEB-M.stats" | head -n 4 | tr '\n' ' ')" "3 0 0 2 "
    run paper CELEB_M_EXCLUDE=person "$M/test-CELEB-M.tsv"
    assert_failure
    assert_output --partial "CELEB_M_EXCLUDE 'person' is neither source nor identity"
}

@test "paper profile: FRAMES_REAL_TRAIN and FRAMES_FAKE_TRAIN take more frames of each training video" {
    cp -a "$RUNS" "$BATS_TEST_TMPDIR/runs"
    RUNS="$BATS_TEST_TMPDIR/runs"
    local R="$RUNS/paper"
    rm "$R/data/manifests/train-F2F.tsv"   # a command-line variable does not make a file out of date
    paper FRAMES_REAL_TRAIN=3 FRAMES_FAKE_TRAIN=4 TRAIN_IMAGES=20 "$R/data/train/F2F.dft"
    # 3 frames of each real video, 4 of each fake, 10 + 10 images kept of 12 + 16
    run sh -c "pack --list --meta frame '$R/data/train/F2F.dft' | cut -f2,3 | sed 's|/f0\([0-9]\)	| \1 |' | sort -k3,3 -k2,2n | awk '{ n[\$3] = \$2 > n[\$3] ? \$2 : n[\$3]; c[\$3]++ } END { print n[\"real\"], c[\"real\"], n[\"fake\"], c[\"fake\"] }'"
    assert_output '2 10 3 10'
}

@test "paper profile: RQ3 compares the study's images, of the class the study explained; both figures shown" {
    local R="$RUNS/paper" d k
    # cam --compat study: u8 RGB images; class index 0 = P(real) for the sigmoid models (both archs here)
    for d in MesoNet1 MesoNet5 ShallowNet3; do
        run pack --list --meta compat --meta class "$R/rq3/cam-study/$d/DFD.dft"
        assert_output --regexp "	u8	32x32x3	study	real$"
    done
    # the sigmoid/softmax class table: real for meso4, mesoinception4, shallownet; fake for the others
    run make -C "$ROOT" --no-print-directory -f pipelines/study.mk -n PROFILE=paper DATA="$BATS_FILE_TMPDIR/DATA" \
        DFD_ROOT="$BATS_FILE_TMPDIR/trees/dfd" RUNS="$BATS_TEST_TMPDIR/r" BIN="$BIN" "${TINY[@]}" \
        "ARCHS=meso4 mesoinception4 shallownet xception efficientnet-b0" "$BATS_TEST_TMPDIR/r/paper/rq3/cam-study/MesoInception2/FS.dft" \
        "$BATS_TEST_TMPDIR/r/paper/rq3/cam-study/XceptionNet4/FS.dft" "$BATS_TEST_TMPDIR/r/paper/rq3/cam-study/EfficientNet6/NT.dft"
    assert_success
    [ "$(echo "$output" | grep -c -- '--compat study --class real .*-o [^ ]*/cam-study/MesoInception2/FS.dft')" -eq 1 ]
    [ "$(echo "$output" | grep -c -- '--compat study --class fake .*-o [^ ]*/cam-study/XceptionNet4/FS.dft')" -eq 1 ]
    [ "$(echo "$output" | grep -c -- '--compat study --class fake .*-o [^ ]*/cam-study/EfficientNet6/NT.dft')" -eq 1 ]
    # the study images' SSIM is the main table; dfstudy's maps follow; two labelled figures
    [ -s "$R/rq3/ssim-study-hist.tsv" ] && [ -s "$R/rq3/ssim-study/MesoNet4-6/FS-I.tsv" ]
    grep -q '^\*\*The study.s images\*\* (`CAM_COMPAT=study`' "$R/report.md"
    grep -q "^\*\*dfstudy's Grad-CAM maps\*\*, for comparison" "$R/report.md"
    [ "$(head -c 8 "$R/figures/cams-study.png" | od -An -t x1 | tr -d ' ')" = 89504e470d0a1a0a ]
    grep -qx "!\[Figure 2: the study's Grad-CAM images, detectors x test sets\](figures/cams-study.png)" "$R/report.md"
    grep -qx "!\[Second figure: dfstudy's Grad-CAM maps, detectors x test sets\](figures/cams.png)" "$R/report.md"
    # the differences from the study are listed, with this run's short training sets
    grep -q '^## Differences from the study$' "$R/report.md"
    grep -q '^- Sizes: training sets short of TRAIN_IMAGES: train/CELEB 8\.' "$R/report.md"
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
    assert_equal "$stderr" "sample-manifest.sh: --images, --frames and --real-frames need positive whole numbers"
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
