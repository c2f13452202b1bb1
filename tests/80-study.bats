#!/usr/bin/env bats
# make study (pipelines/study.mk) with the tiny `test` profile in a temporary RUNS directory:
# every output exists, a second run does nothing, touching one input (a checkpoint, the profile,
# a tool) reruns only what depends on it, your own detectors enter the tables, and the GNU
# parallel fan-out (JOBS, HOSTS) gives the same files as make alone.
load helper

# One full run shared by the tests (a few seconds on 2 cores): make -j2, no parallel.
setup_file() {
    export RUNS="$BATS_FILE_TMPDIR/runs"
    make -C "$ROOT" --no-print-directory study PROFILE=test RUNS="$RUNS" BIN="$BIN" \
        > "$BATS_FILE_TMPDIR/first.out" 2> "$BATS_FILE_TMPDIR/first.err"
}

# Tests that change the run work on their own copy (timestamps kept): bats may run tests in
# parallel.
own_copy() {
    cp -a "$RUNS" "$BATS_TEST_TMPDIR/runs"
    RUNS="$BATS_TEST_TMPDIR/runs"
}

study() {
    make -C "$ROOT" --no-print-directory -f pipelines/study.mk PROFILE=test RUNS="$RUNS" BIN="$BIN" "$@"
}

@test "study: tables, scores, RQ3, RQ4 and the report exist and are not empty" {
    local R="$RUNS/test" n t d
    for n in 4 5 6 7; do
        [ -s "$R/tables/table$n.tsv" ] || fail "empty tables/table$n.tsv"
        [ -s "$R/tables/table$n.md" ] || fail "empty tables/table$n.md"
    done
    # 2 architectures x 6 detectors x 9 test sets
    for d in MesoNet ShallowNet; do for n in 1 2 3 4 5 6; do
        for t in CELEB CELEB-M F2F FS NT DF DFD FS-I NT-I; do
            [ -s "$R/scores/$d$n/$t.tsv" ] || fail "missing scores/$d$n/$t.tsv"
        done
    done; done
    # Table 4 lists the 12 detectors of the profile, with numbers, not missing cells
    run grep -c '^MesoNet[1-6]\|^ShallowNet[1-6]' "$R/tables/table4.tsv"
    assert_output 12
    run awk -F'\t' 'NR > 1 && ($6 == "-" || $6 == "") { print }' "$R/tables/table4.tsv"
    assert_output ''
    if command -v gnuplot >/dev/null; then
        for f in figures/ssim.png figures/overlap.png; do [ -s "$R/$f" ] || fail "empty $f"; done
    fi
    for f in rq3/ssim-hist.tsv rq3/ssim/ShallowNet1-3/DF.tsv rq3/ssim/MesoNet4-6/CELEB.hist.tsv \
             rq3/cam/MesoNet2/FS-I.dft rq4/overlap.md rq4/overlap.tsv timings.tsv report.md; do
        [ -s "$R/$f" ] || fail "empty $f"
    done
    [ "$(ls "$R/rq4/ace" | grep -c '\.tsv$')" -eq 9 ]
    # RQ4: the study's five sets are the main overlap (counts 1..5), the nine sets an extra
    [ "$(head -n 1 "$R/rq4/overlap5.md" | grep -o 'in exactly [0-9]' | tr '\n' ' ')" = "in exactly 1 in exactly 2 in exactly 3 in exactly 4 in exactly 5 " ]
    grep -q '| p (all 9) |$' "$R/rq4/overlap.md"
    [ "$(grep -n 'p (all 5)' "$R/report.md" | cut -d: -f1)" -lt "$(grep -n 'p (all 9)' "$R/report.md" | cut -d: -f1)" ]
    # every set's size, and no leak
    [ "$(awk -F'\t' 'NR > 1 { n++; l += $7 } END { print n, l }' "$R/data/sets.tsv")" = "15 0" ]
    run grep -c '^> \*\*SYNTHETIC DATA\.\*\*' "$R/report.md"
    assert_output 1
    grep -q '^## Comparison with the published numbers (SYNTHETIC DATA: not comparable)$' "$R/report.md"
    # side by side: this run's MesoNet1 beside the paper's 97.60 / 55.25 / 42.35 / CELEB-M 80.20
    grep -q '^| MesoNet1 | [0-9.]* / 97.60 | [0-9.]* / 55.25 | -*[0-9.]* / 42.35 | [0-9.]* / 80.20 | - / - | - / - |$' "$R/report.md"
    # Figure 2: a PNG with a row per detector and a column group per test set
    [ "$(head -c 8 "$R/figures/cams.png" | od -An -t x1 | tr -d ' ')" = 89504e470d0a1a0a ]
    grep -q '^!\[Figure 2.*\](figures/cams.png)$' "$R/report.md"
    grep -q '^| MesoNet1 ' "$R/report.md"
    grep -q '^| train1 ' "$R/report.md"
    run find "$R" -name '*.tmp' -o -name '*.tmp.*' -o -name '*.dft.d'
    assert_output ''
}

@test "study: a second run does nothing" {
    study -q
    local before; before=$(wc -l < "$RUNS/test/timings.tsv")
    run make -C "$ROOT" --no-print-directory study PROFILE=test RUNS="$RUNS" BIN="$BIN"
    assert_success
    assert_output --partial "Nothing to be done for 'study'"
    [ "$(wc -l < "$RUNS/test/timings.tsv")" -eq "$before" ]
}

@test "progress: make study (make -j2) counts every target to the total, on stderr only" {
    check_progress_counter "$BATS_FILE_TMPDIR/first.err"
    run grep -c '^study: \[' "$BATS_FILE_TMPDIR/first.out"
    assert_output 0
    # the first finished target carries no estimate: no basis yet
    run grep '^study: \[1/' "$BATS_FILE_TMPDIR/first.err"
    assert_success
    refute_output --partial left
    # a second run makes nothing and counts nothing; a dry run writes no counter
    own_copy
    study > out2.log 2> err2.log
    run cat err2.log
    assert_output --partial "study: nothing to make in $RUNS/test"
    refute_output --partial 'study: ['
    rm -rf "$RUNS/test/progress"
    study -n > /dev/null 2>&1
    [ ! -e "$RUNS/test/progress" ]
}

@test "study: touching one checkpoint reruns only what depends on it" {
    own_copy
    local R="$RUNS/test" before
    before=$(wc -l < "$R/timings.tsv")
    sleep 1   # make compares timestamps; keep the touch strictly newer
    touch "$R/models/ShallowNet4.ckpt"
    study -j2
    study -q
    # rebuilt: models 5 and 6 (they start from 4), the scores and heatmaps of 4-6, the F2F
    # group's SSIM, the tables and the report; not the data, models 1-3, MesoNet, or RQ4
    run sh -c "tail -n +$((before + 1)) '$R/timings.tsv' | cut -f2"
    assert_success
    assert_line models/ShallowNet5.ckpt
    assert_line models/ShallowNet6.ckpt
    assert_line scores/ShallowNet4/CELEB.tsv
    assert_line rq3/ssim/ShallowNet4-6/NT-I.tsv
    assert_line tables/table5.tsv
    refute_line --regexp '^data/'
    refute_line --regexp 'ShallowNet[123]|MesoNet|^rq4/'
}

@test "study: a deleted score file is rebuilt alone, with what reads it" {
    own_copy
    local R="$RUNS/test" before
    before=$(wc -l < "$R/timings.tsv")
    rm "$R/scores/MesoNet2/FS.tsv"
    study -j2
    run sh -c "tail -n +$((before + 1)) '$R/timings.tsv' | cut -f1 | sort -u | tr '\n' ' '"
    assert_output 'predict report tables '
    [ -s "$R/scores/MesoNet2/FS.tsv" ]
}

@test "study: an unknown profile is an error naming it" {
    run study PROFILE=nosuch
    assert_failure
    assert_output --partial "unknown PROFILE 'nosuch'"
}

@test "study: ACE_ARCH outside ARCHS is an error that says what to set" {
    run study ARCHS=meso4
    assert_failure
    assert_output --partial "ACE_ARCH 'shallownet' is not in ARCHS 'meso4'"
}

@test "study: a training interrupted after its last state was saved resumes to the same checkpoint" {
    own_copy
    local R="$RUNS/test"
    cp "$R/models/MesoNet1.ckpt" saved.ckpt
    # as if killed after the last epoch, before the renames
    mv "$R/models/MesoNet1.ckpt" "$R/models/MesoNet1.part.ckpt"
    mv "$R/models/MesoNet1.last.ckpt" "$R/models/MesoNet1.part.last.ckpt"
    mv "$R/models/MesoNet1.log.tsv" "$R/models/MesoNet1.part.log.tsv"
    echo "marker of the interrupted run" >> "$R/models/MesoNet1.part.log.tsv"
    local before; before=$(wc -l < "$R/timings.tsv")
    study -j2
    [ ! -e "$R/models/MesoNet1.part.ckpt" ] && [ -s "$R/models/MesoNet1.last.ckpt" ]
    # resumed: no epoch was trained again, so the log is still the interrupted run's
    grep -q '^marker of the interrupted run$' "$R/models/MesoNet1.log.tsv"
    run sh -c "tail -n +$((before + 1)) '$R/timings.tsv' | cut -f2 | grep -c '^models/'"
    assert_output 1
    cmp saved.ckpt "$R/models/MesoNet1.ckpt"
    study -q
}

# the targets `make -n` would build (every recipe starts with ": dfs-build TARGET"), relative
would_build() {
    study -n "$@" | sed -n "s|^: dfs-build $RUNS/test/||p"
}

@test "study: an edited profile reruns the data and everything after it" {
    mkdir prof
    cp -p "$ROOT/pipelines/profiles/test.mk" prof/test.mk
    run would_build PROFILE_DIR="$PWD/prof"
    assert_output ''
    sleep 1
    touch prof/test.mk
    run would_build PROFILE_DIR="$PWD/prof"
    assert_line data/train/CELEB.dft
    assert_line data/test/NT-I.dft
    assert_line models/MesoNet1.ckpt
    assert_line models/ShallowNet6.ckpt
    assert_line report.md
}

@test "study: a rebuilt tool reruns what it makes, not the rest" {
    # a BIN of links to the tools, predict a copy that is newer than every output
    mkdir bin2
    for t in "$BIN"/*; do [ -x "$t" ] && [ -f "$t" ] && ln -s "$t" "bin2/${t##*/}"; done
    run would_build BIN="$PWD/bin2"
    assert_output ''
    sleep 1
    rm bin2/predict && cp "$BIN/predict" bin2/predict
    run would_build BIN="$PWD/bin2"
    assert_line scores/MesoNet1/CELEB.tsv
    assert_line scores/ShallowNet6/NT-I.tsv
    assert_line tables/table5.tsv
    assert_line report.md
    refute_line --regexp '^(data|models|rq3|rq4)/'
    # train: every model, and what reads them, but not the data
    rm bin2/predict && ln -s "$BIN/predict" bin2/predict
    rm bin2/train && cp "$BIN/train" bin2/train
    run would_build BIN="$PWD/bin2"
    assert_line models/MesoNet1.ckpt
    assert_line rq3/cam/ShallowNet2/FS.dft
    assert_line rq4/ace/DFD.tsv
    refute_line --regexp '^data/'
}

@test "study: your own detector's scores (OWN=) enter Tables 4-7 and the report" {
    own_copy
    local R="$RUNS/test" t before
    mkdir -p own/MyNet1
    printf 'detector\tMyNet1\tMyNet\tCELEB\toriginal\tnone\n' > own/detectors.tsv
    # right on its own test set and on CELEB-M, wrong on the four unseen sets: degradation 100
    for t in CELEB CELEB-M FS NT DF DFD; do
        awk -F'\t' -v OFS='\t' -v t=$t 'NR == 1 { print; next }
            { $4 = (t == "CELEB" || t == "CELEB-M") ? $3 : 1 - $3; print }' "$R/scores/MesoNet1/$t.tsv" > own/MyNet1/$t.tsv
    done
    before=$(wc -l < "$R/timings.tsv")
    study -j2 OWN="$PWD/own"
    run sh -c "tail -n +$((before + 1)) '$R/timings.tsv' | cut -f1 | sort -u | tr '\n' ' '"
    assert_output 'own report tables '
    cmp own/MyNet1/FS.tsv "$R/scores/MyNet1/FS.tsv"
    run grep '^MyNet1' "$R/tables/table4.tsv"
    assert_output --regexp '^MyNet1	MyNet	CELEB	original	none	100.00	'
    # Table 5 ranks it last (degradation 100), Table 6 keeps it (more than 30 points)
    run awk -F'\t' '$2 == "MyNet1" { print $3, $NF }' "$R/tables/table5.tsv"
    assert_output '100.00 100.00'
    grep -q '^| 1 | MyNet1 | 100.00 |' "$R/tables/table6.md"
    grep -q '^Your own detectors (`OWN=`.*MyNet1' "$R/report.md"
    grep -q '^| MyNet1 | 100.00 / - | 0.00 / - | 100.00 / - | 100.00 / - |' "$R/report.md"
    # a name of the run's baselines is refused
    printf 'detector\tMesoNet1\tMyNet\tCELEB\toriginal\tnone\n' > own/detectors.tsv
    run study OWN="$PWD/own"
    assert_failure
    assert_output --partial "own: MesoNet1 would replace a baseline detector of this run: rename it"
}

@test "study: the GNU parallel fan-out over a HOSTS file (the local host) makes the same files" {
    local F="$BATS_TEST_TMPDIR/fan" f
    echo ':' > hosts
    # with two (made-up) GPUs: each job holds one (DFS_DEVICE=cpu keeps the tools on the cpu)
    DFS_GPU_LOG="$PWD/gpus.log" TMPDIR="$BATS_TEST_TMPDIR" run --separate-stderr make -C "$ROOT" --no-print-directory \
        study PROFILE=test JOBS=2 HOSTS="$PWD/hosts" GPUS=0,1 RUNS="$F" BIN="$BIN"
    assert_success
    # the fan-out's progress: every target counted to the total, on stderr only
    printf '%s\n' "$stderr" > err.log
    check_progress_counter err.log
    refute_output --partial 'study: ['
    grep -q 'jobs: GNU parallel -j 2 --sshloginfile .*/hosts one GPU per job of 0,1 in waves, then make\.$' "$F/test/report.md"
    assert_equal "$(cut -f1 gpus.log | sort -u | tr '\n' ' ')" "0 1 "
    grep -q '^[01]	make -s --no-print-directory .* [^ ]*/models/MesoNet1\.ckpt$' gpus.log
    # every data file, model, score, heatmap, SSIM, ace table, table and figure is the same
    local n=0
    while IFS= read -r f; do
        cmp "$RUNS/test/$f" "$F/test/$f"
        n=$((n + 1))
    done < <(cd "$RUNS/test" && find data models scores rq3 rq4 tables figures -type f ! -name '*.log' ! -name '*.log.tsv' ! -name '*.png' | sort)
    [ "$n" -gt 300 ]
    cmp "$RUNS/test/figures/cams.png" "$F/test/figures/cams.png"
    [ "$(cd "$F/test" && find data models scores rq3 rq4 tables figures -type f ! -name '*.log' ! -name '*.log.tsv' ! -name '*.png' | wc -l)" -eq "$n" ]
    # the waves ran through parallel; a second fan-out finds nothing to do
    local before; before=$(wc -l < "$F/test/timings.tsv")
    run make -C "$ROOT" --no-print-directory study PROFILE=test JOBS=2 HOSTS="$PWD/hosts" GPUS=0,1 RUNS="$F" BIN="$BIN"
    assert_success
    assert_output --partial "Nothing to be done for 'study'"
    [ "$(wc -l < "$F/test/timings.tsv")" -eq "$before" ]
    run find "$F" -name '*.tmp' -o -name '*.part.*'
    assert_output ''
}

@test "study: BN_RECALIBRATE reaches train (on in the demo profile, off in paper) and report.md lists it" {
    local n
    run study -n -B PROFILE=demo "$RUNS/demo/models/MesoNet1.ckpt" "$RUNS/demo/models/MesoNet2.ckpt"
    assert_success
    n=$(sed -n 's/^BN_RECALIBRATE *:= *\([0-9][0-9]*\)$/\1/p' "$ROOT/pipelines/profiles/demo.mk")
    [ -n "$n" ]
    [ "$(grep -c "train .*--bn-recalibrate $n " <<< "$output")" -eq 2 ]
    run study -n -B "$RUNS/test/models/MesoNet1.ckpt"
    refute_output --partial '--bn-recalibrate'
    grep -qx 'BN_RECALIBRATE :=' "$ROOT/pipelines/profiles/paper.mk"
    grep -q '^## Differences from the study$' "$RUNS/test/report.md"
    ! grep -q 'Batchnorm statistics' "$RUNS/test/report.md"
    own_copy
    touch "$RUNS/test/rq4/overlap5.md"
    study BN_RECALIBRATE=2
    grep -q '^- Batchnorm statistics (BN_RECALIBRATE=2, `train --bn-recalibrate`): before each$' "$RUNS/test/report.md"
    grep -q 'its first 2 training batches ("precise BN"), with dropout off as in evaluation;' "$RUNS/test/report.md"
}

@test "study: LR1_<arch>/LR23_<arch> reach that architecture's train alone and report.md lists them" {
    run study -n -B LR1_shallownet=5e-4 LR23_meso4=2e-3 "$RUNS/test/models/ShallowNet1.ckpt" "$RUNS/test/models/MesoNet1.ckpt" \
        "$RUNS/test/models/ShallowNet3.ckpt" "$RUNS/test/models/MesoNet2.ckpt" "$RUNS/test/models/MesoNet3.ckpt"
    assert_success
    [ "$(grep -c -- 'train --arch shallownet .* --lr 5e-4' <<< "$output")" -eq 1 ]
    [ "$(grep -c -- '--lr ' <<< "$output")" -eq 3 ]
    [ "$(grep -c -- '--from [^ ]*/MesoNet1.ckpt --mode .* --lr 2e-3' <<< "$output")" -eq 2 ]
    ! grep -q 'Learning rates' "$RUNS/test/report.md"
    own_copy
    touch "$RUNS/test/rq4/overlap5.md"
    study LR1_shallownet=5e-4 LR23_meso4=2e-3
    grep -q '^- Learning rates (LR23_meso4=2e-3 LR1_shallownet=5e-4): `train --lr` instead of' "$RUNS/test/report.md"
}

@test "study: ARCHS restricts the detectors trained, scored and explained, with the profile's settings of those kept" {
    local trained
    run study -n -B PROFILE=demo ARCHS="meso4 efficientnet-b0" ACE_ARCH=meso4 study
    assert_success
    trained=$(grep -o -- "-o $RUNS/demo/models/[A-Za-z]*[1-6]\.part\.ckpt" <<< "$output" | sed 's|.*/models/||; s|\.part\.ckpt||' | sort | tr '\n' ' ')
    [ "$trained" = "EfficientNet1 EfficientNet2 EfficientNet3 EfficientNet4 EfficientNet5 EfficientNet6 MesoNet1 MesoNet2 MesoNet3 MesoNet4 MesoNet5 MesoNet6 " ]
    ! grep -q 'XceptionNet\|ShallowNet\|MesoInception\|--arch xception\|--arch shallownet\|--arch mesoinception4' <<< "$output"
    [ "$(grep -c -- "predict -m $RUNS/demo/models/MesoNet3.ckpt " <<< "$output")" -eq 9 ]
    grep -q "rq3/cam/EfficientNet6/DFD.dft" <<< "$output"
    [ "$(grep -c -- "train --arch efficientnet-b0 .*--epochs $(sed -n 's/^EPOCHS1_efficientnet-b0 *:= *//p' "$ROOT/pipelines/profiles/demo.mk") .*--lr $(sed -n 's/^LR1_efficientnet-b0 *:= *//p' "$ROOT/pipelines/profiles/demo.mk")" <<< "$output")" -eq 2 ]
    # the profile's own list: all five
    run study -n -B PROFILE=demo study
    [ "$(grep -c -- "-o $RUNS/demo/models/[A-Za-z]*[1-6]\.part\.ckpt" <<< "$output")" -eq 30 ]
}

@test "study: AUG_VAL_VIDEOS sets the FS and NT validation videos of stages 2/3 (default AUG_VIDEOS)" {
    run study -n -B AUG_VIDEOS=6 AUG_VAL_VIDEOS=3 "$RUNS/test/data/aug/val-fs.dft" "$RUNS/test/data/aug/train-nt.dft"
    assert_success
    [ "$(grep -c -- 'synth --role fs --split val --videos 3 ' <<< "$output")" -eq 1 ]
    [ "$(grep -c -- 'synth --role nt --split train --videos 6 ' <<< "$output")" -eq 1 ]
    run study -n -B AUG_VIDEOS=6 "$RUNS/test/data/aug/val-nt.dft"
    [ "$(grep -c -- 'synth --role nt --split val --videos 6 ' <<< "$output")" -eq 1 ]
}

@test "study: the study config (pipelines/study.conf, STUDY_CONF) decides detectors, training, groups and test sets" {
    printf '%s\n' 'unseen	FS' 'testsets	F2F,FS' 'role	a	F2F	original	none' 'role	b	F2F	merge	F2F,FS,NT' \
        'architecture	meso4	Meso	real' > my.conf
    run study -n -B STUDY_CONF="$PWD/my.conf" ARCHS=meso4 ACE_ARCH=meso4 study
    assert_success
    # role a from scratch on F2F, role b from a's checkpoint; nothing of the study's 1..6
    [ "$(grep -c -- "train --arch meso4 --train $RUNS/test/data/train/F2F.dft .* -o $RUNS/test/models/Mesoa.part.ckpt" <<< "$output")" -eq 1 ]
    [ "$(grep -c -- "--from $RUNS/test/models/Mesoa.ckpt --mode merge .* -o $RUNS/test/models/Mesob.part.ckpt" <<< "$output")" -eq 1 ]
    ! grep -q 'MesoNet[1-6]\|models/Meso[1-6]' <<< "$output"
    # the test sets scored, the RQ3 group of the two roles
    grep -q "scores/Mesob/FS.tsv" <<< "$output"
    ! grep -q "scores/Mesob/DF.tsv" <<< "$output"
    grep -q "rq3/ssim/Meso.-b/F2F.tsv\|rq3/ssim/Mesoa-b/F2F.tsv" <<< "$output"
    # score reads the same file
    grep -q "cat $PWD/my.conf" <<< "$output"
    # a transfer role needs an original role of its training set to start from
    printf '%s\n' 'unseen	FS' 'testsets	F2F' 'role	a	F2F	transfer	F2F,FS' > bad.conf
    run study -n -B STUDY_CONF="$PWD/bad.conf" study
    assert_failure
    assert_output --partial "bad.conf: role a (transfer on F2F) has no original role of F2F to start from"
}
