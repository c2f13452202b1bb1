#!/usr/bin/env bats
# score: metric reports (levels, Markdown, bootstrap), bad input, and the study's Tables 4-7 on
# the fixture directory tests/fixtures/scores (made by tests/make-fixtures-scores.py: every cell is
# correct/20 frames, so the expected numbers below are worked out by hand from its PLAN).

load helper

FIX="$ROOT/tests/fixtures/scores"
HDR=$'key\tdataset\tlabel\tp_fake'

# a small score file: fakes 0.9, 0.5 / reals 0.5, 0.1, two videos per class
small() {
    printf '%s\n' "$HDR" \
        $'fs/a/f1\tfs\t1\t0.9' $'fs/a/f2\tfs\t1\t0.5' \
        $'real/b/f1\treal\t0\t0.5' $'real/b/f2\treal\t0\t0.1' \
        $'fs/c/f1\tfs\t1\t0.4' $'real/d/f1\treal\t0\t0.3' > "${1:-small.tsv}"
}

# the command failed with exactly one line on stderr that contains $1, and printed nothing
assert_one_line_error() {
    [ "$status" -ne 0 ] || { echo "status 0, expected failure" >&2; return 1; }
    [ "${#stderr_lines[@]}" -eq 1 ] || { echo "stderr has ${#stderr_lines[@]} lines: $stderr" >&2; return 1; }
    [[ "$stderr" == "score: "*"$1"* ]] || { echo "stderr '$stderr' lacks '$1'" >&2; return 1; }
    [ -z "$output" ] || { echo "stdout not empty: $output" >&2; return 1; }
}

@test "score --help exits 0 and unknown flags fail in one line" {
    run score --help
    assert_success
    assert_output --partial "usage: score"
    run --separate-stderr score --frobnicate x.tsv
    assert_one_line_error "unknown option '--frobnicate'"
    run --separate-stderr score
    assert_one_line_error "no score file given"
}

@test "score: frame-level metrics, worked by hand" {
    small
    run --separate-stderr score small.tsv
    assert_success
    # acc: 0.9 0.5 | 0.5* 0.1 0.4* 0.3 -> 4/6 right (p = 0.5 counts as fake)
    # auc: fakes {0.9,0.5,0.4} vs reals {0.5,0.1,0.3}: 3 + (0.5+1+1) + (1+1) = 7.5/9
    # ap: 0.9 (1/1, R 1/3), 0.5 (2/3, R 2/3), 0.4 (3/4, R 1) -> (1 + 2/3 + 3/4)/3
    # eer: ROC (0,1/3) (1/3,2/3) (1/3,1): FNR-FPR = 2/3, 0, ... -> 1/3
    assert_output "$(printf 'name\tlevel\tn\tacc\tauc\tap\teer\nsmall\tframe\t6\t0.666667\t0.833333\t0.805556\t0.333333')"
}

@test "score --level video averages a video's frames; both prints both rows" {
    small
    run --separate-stderr score --level both small.tsv
    assert_success
    # videos: a 0.7 fake, b 0.3 real, c 0.4 fake, d 0.3 real -> acc 3/4, auc (2 + 2)/4 = 1
    assert_line --index 1 "$(printf 'small\tframe\t6\t0.666667\t0.833333\t0.805556\t0.333333')"
    assert_line --index 2 "$(printf 'small\tvideo\t4\t0.750000\t1.000000\t1.000000\t0.000000')"
    run --separate-stderr score --level video small.tsv
    assert_success
    assert_equal "${#lines[@]}" 2
    assert_line --index 1 --partial $'small\tvideo\t4\t'
}

@test "score: same video id under two datasets stays two videos" {
    printf '%s\n' "$HDR" $'fs/000_003/f1\tfs\t1\t0.9' $'nt/000_003/f1\tnt\t1\t0.2' \
        $'real/000/f1\treal\t0\t0.4' > two.tsv
    run --separate-stderr score --level video two.tsv
    assert_success
    # 3 videos (grouping by the last folder name alone would merge the first two); acc 2/3,
    # auc 1/2, ap 1/2 + 1/2 * 2/3, eer where ROC (0,1/2)-(1,1/2) meets FNR = FPR
    assert_line --index 1 "$(printf 'two\tvideo\t3\t0.666667\t0.500000\t0.833333\t0.500000')"
}

@test "score --markdown prints a Markdown table; one row per file, named by stem" {
    small a.tsv
    small b.scores.tsv
    run --separate-stderr score --markdown a.tsv b.scores.tsv
    assert_success
    assert_line --index 0 "| name | level | n | acc | auc | ap | eer |"
    assert_line --index 1 "|---|---|---|---|---|---|---|"
    assert_line --index 2 "| a | frame | 6 | 0.666667 | 0.833333 | 0.805556 | 0.333333 |"
    assert_line --index 3 "| b.scores | frame | 6 | 0.666667 | 0.833333 | 0.805556 | 0.333333 |"
}

@test "score: one class only prints nan for AUC and EER, never crashes" {
    printf '%s\n' "$HDR" $'fs/a/f1\tfs\t1\t0.9' $'fs/b/f1\tfs\t1\t0.2' > fakes.tsv
    printf '%s\n' "$HDR" $'r/a/f1\tr\t0\t0.9' $'r/b/f1\tr\t0\t0.2' > reals.tsv
    run --separate-stderr score --bootstrap 50 fakes.tsv reals.tsv
    assert_success
    assert_line --index 1 "$(printf 'fakes\tframe\t2\t0.500000\tnan\t1.000000\tnan\t0.000000\t1.000000\tnan\tnan\t1.000000\t1.000000\tnan\tnan')"
    assert_line --index 2 --partial "$(printf 'reals\tframe\t2\t0.500000\tnan\tnan\tnan\t')"
}

@test "score --bootstrap is deterministic by seed and a row does not depend on other files" {
    small
    small other.tsv
    run --separate-stderr score --bootstrap 200 --seed 5 --level both small.tsv
    assert_success
    first=$output
    assert_line --index 0 "$(printf 'name\tlevel\tn\tacc\tauc\tap\teer\tacc_lo\tacc_hi\tauc_lo\tauc_hi\tap_lo\tap_hi\teer_lo\teer_hi')"
    run --separate-stderr score --bootstrap 200 --seed 5 --level both small.tsv
    assert_equal "$output" "$first"
    run --separate-stderr score --bootstrap 200 --seed 5 --level both other.tsv small.tsv
    assert_line --index 3 "$(sed -n 2p <<<"$first")"
    run --separate-stderr score --bootstrap 200 --seed 6 --level both small.tsv
    [ "$output" != "$first" ]
    # the intervals hold the estimate (acc 0.666667 between acc_lo and acc_hi)
    awk -F'\t' 'NR == 2 && !($8 <= $4 && $4 <= $9) { exit 1 }' <<<"$first"
    run --separate-stderr score --seed 5 small.tsv
    assert_one_line_error "--seed is for --bootstrap"
    run --separate-stderr score --bootstrap 0 small.tsv
    assert_one_line_error "--bootstrap"
}

@test "score reads stdin as '-' and writes -o atomically" {
    small
    score - < small.tsv > out1
    grep -q $'^stdin\tframe\t6\t' out1
    run --separate-stderr score -o res.tsv small.tsv
    assert_success
    [ -z "$output" ]
    grep -q $'^small\tframe\t6\t0.666667' res.tsv
    printf 'bad\n' > bad.tsv
    run --separate-stderr score -o res2.tsv small.tsv bad.tsv
    assert_one_line_error "bad.tsv: line 1: header"
    assert_no_files res2.tsv
    assert_no_temporaries
}

@test "score: every bad input gives one line naming file and line, and fails" {
    : > empty.tsv
    run --separate-stderr score empty.tsv
    assert_one_line_error "empty.tsv: empty file"
    printf 'key\tdataset\tlabel\tscore\nx/1\tfs\t1\t0.5\n' > header.tsv
    run --separate-stderr score header.tsv
    assert_one_line_error "header.tsv: line 1: header is not"
    printf '%s\n' "$HDR" > norec.tsv
    run --separate-stderr score norec.tsv
    assert_one_line_error "norec.tsv: line 2: no records"
    printf '%s\n' "$HDR" $'x/1\tfs\t1\t0.5' $'x/2 fs 1 0.5' > malformed.tsv
    run --separate-stderr score malformed.tsv
    assert_one_line_error "malformed.tsv: line 3: 1 tab-separated field, expected 4"
    printf '%s\n' "$HDR" $'x/1\tfs\t1\t0.5' $'x/2\tfs\treal\t0.5' > label.tsv
    run --separate-stderr score label.tsv
    assert_one_line_error "label.tsv: line 3: label 'real' is not 0 or 1"
    printf '%s\n' "$HDR" $'x/1\tfs\t1\t1.5' > range.tsv
    run --separate-stderr score range.tsv
    assert_one_line_error "range.tsv: line 2: p_fake '1.5' is not a number in [0,1]"
    printf '%s\n' "$HDR" $'x/1\tfs\t1\tNaN' > nan.tsv
    run --separate-stderr score nan.tsv
    assert_one_line_error "nan.tsv: line 2: p_fake 'NaN' is not a number in [0,1]"
    printf '%s\n' "$HDR" $'x/1\tfs\t1\t0.5' $'x/2\tfs\t1\t0.5' $'x/1\tfs\t1\t0.7' > dup.tsv
    run --separate-stderr score dup.tsv
    assert_one_line_error "dup.tsv: line 4: duplicate key 'x/1' (first on line 2)"
    run --separate-stderr score nosuch.tsv
    assert_one_line_error "nosuch.tsv: No such file"
    run --separate-stderr score --level sideways dup.tsv
    assert_one_line_error "--level: 'sideways' is not frame, video or both"
}

@test "score --level video: mixed labels, mixed datasets and keys without a video fail" {
    printf '%s\n' "$HDR" $'fs/1/f1\tfs\t1\t0.5' $'fs/2/f1\tfs\t0\t0.5' $'fs/1/f2\tfs\t0\t0.5' > mixed.tsv
    run --separate-stderr score mixed.tsv
    assert_success   # frame level does not care
    run --separate-stderr score --level video mixed.tsv
    assert_one_line_error "mixed.tsv: line 4: video 'fs/1' has label 0 here but 1 on line 2"
    printf '%s\n' "$HDR" $'000_003/f1\tfs\t1\t0.5' $'000_003/f2\tnt\t1\t0.5' > collide.tsv
    run --separate-stderr score --level both collide.tsv
    assert_one_line_error "collide.tsv: line 3: video '000_003' mixes datasets 'fs' (line 2) and 'nt'"
    printf '%s\n' "$HDR" $'f1\tfs\t1\t0.5' > flat.tsv
    run --separate-stderr score --level video flat.tsv
    assert_one_line_error "flat.tsv: line 2: key 'f1' has no video part"
}

@test "score --table 4: detectors, training set, stage, original accuracy" {
    run --separate-stderr score --table 4 --dir "$FIX"
    assert_success
    assert_output "$(printf '%s\n' \
        $'detector\tarchitecture\ttrained_on\tstage\tfinetune_data\toriginal_acc\tarch_avg_acc' \
        $'XceptionNet1\tXceptionNet\tCELEB\toriginal\tnone\t100.00\t100.00' \
        $'MesoNet1\tMesoNet\tCELEB\toriginal\tnone\t95.00\t93.33' \
        $'MesoNet2\tMesoNet\tCELEB\ttransfer\tCELEB,FS,NT\t90.00\t93.33' \
        $'MesoNet4\tMesoNet\tF2F\toriginal\tnone\t95.00\t93.33' \
        $'ShallowNet6\tShallowNet\tF2F\tmerge\tF2F,FS,NT\t75.00\t75.00')"
    # detectors without a directory and directories outside the config are named, not silent
    [[ "$stderr" == *"25 detectors of the study config have no directory, left out"* ]]
    [[ "$stderr" == *"not in the study config, left out: Mystery"* ]]
}

@test "score --table 5: unseen accuracies, average, degradation, rank; missing cells are '-'" {
    run --separate-stderr score --table 5 --dir "$FIX"
    assert_success
    assert_output "$(printf '%s\n' \
        $'rank\tdetector\toriginal_acc\tFS_acc\tNT_acc\tDF_acc\tDFD_acc\tunseen_avg_acc\tdegradation' \
        $'1\tShallowNet6\t75.00\t70.00\t70.00\t60.00\t60.00\t65.00\t10.00' \
        $'2\tMesoNet1\t95.00\t50.00\t55.00\t60.00\t65.00\t57.50\t37.50' \
        $'3\tMesoNet4\t95.00\t55.00\t50.00\t60.00\t55.00\t55.00\t40.00' \
        $'4\tXceptionNet1\t100.00\t55.00\t55.00\t55.00\t55.00\t55.00\t45.00' \
        $'-\tMesoNet2\t90.00\t60.00\t60.00\t55.00\t-\t-\t-')"
}

@test "score --table 5 --auc --markdown and --level video" {
    run --separate-stderr score --table 5 --dir "$FIX" --auc --markdown
    assert_success
    assert_line --index 0 "| rank | detector | original_acc | original_auc | FS_acc | FS_auc | NT_acc | NT_auc | DF_acc | DF_auc | DFD_acc | DFD_auc | unseen_avg_acc | unseen_avg_auc | degradation |"
    assert_line --index 1 --regexp '^(\|---)+\|$'
    # XceptionNet1 is perfect on CELEB: AUC 1; ShallowNet6 F2F: AUC 0.625 (checked with sklearn)
    assert_line --index 2 --partial "| 1 | ShallowNet6 | 75.00 | 0.6250 | 70.00 |"
    assert_line --index 5 --partial "| 4 | XceptionNet1 | 100.00 | 1.0000 |"
    assert_line --index 6 --partial "| - | MesoNet2 | 90.00 |"
    assert_line --index 6 --partial "| - | - | - | - | - |"
    # video level: a video with one right and one wrong frame averages to the wrong side
    run --separate-stderr score --table 5 --dir "$FIX" --level video
    assert_success
    assert_line --index 1 $'1\tShallowNet6\t70.00\t70.00\t70.00\t60.00\t60.00\t65.00\t5.00'
}

@test "score --table 6: same-method set (CELEB-M) and degradation difference" {
    run --separate-stderr score --table 6 --dir "$FIX"
    assert_success
    assert_output "$(printf '%s\n' \
        $'rank\tdetector\toriginal_acc\tFS_acc\tNT_acc\tDF_acc\tDFD_acc\tunseen_avg_acc\tunseen_degradation\tCELEB-M_acc\tspecial_degradation\tdegradation_difference' \
        $'1\tMesoNet1\t95.00\t50.00\t55.00\t60.00\t65.00\t57.50\t37.50\t80.00\t15.00\t22.50' \
        $'2\tXceptionNet1\t100.00\t55.00\t55.00\t55.00\t55.00\t55.00\t45.00\t60.00\t40.00\t5.00' \
        $'-\tMesoNet2\t90.00\t60.00\t60.00\t55.00\t-\t-\t-\t75.00\t15.00\t-')"
}

@test "score --table 7: same-identity sets (FS-I, NT-I); --min-degradation widens it" {
    run --separate-stderr score --table 7 --dir "$FIX"
    assert_success
    assert_output "$(printf '%s\n' \
        $'rank\tdetector\toriginal_acc\tFS_acc\tNT_acc\tDF_acc\tDFD_acc\tunseen_avg_acc\tunseen_degradation\tFS-I_acc\tNT-I_acc\tspecial_avg_acc\tspecial_degradation\tdegradation_difference' \
        $'1\tMesoNet4\t95.00\t55.00\t50.00\t60.00\t55.00\t55.00\t40.00\t65.00\t60.00\t62.50\t32.50\t7.50')"
    run --separate-stderr score --table 7 --dir "$FIX" --min-degradation 0
    assert_success
    assert_line --index 2 $'2\tShallowNet6\t75.00\t70.00\t70.00\t60.00\t60.00\t65.00\t10.00\t70.00\t70.00\t70.00\t5.00\t5.00'
    run --separate-stderr score --table 7 --dir "$FIX" --min-degradation 50
    assert_success
    assert_equal "${#lines[@]}" 1
    [[ "$stderr" == *"no detector qualifies for table 7"* ]]
}

@test "score --config replaces the built-in study config; --print-config shows it" {
    run --separate-stderr score --print-config
    assert_success
    assert_line $'unseen\tFS,NT,DF,DFD'
    assert_line $'same_method\tCELEB\tCELEB-M'
    assert_line $'same_identity\tF2F\tFS-I,NT-I'
    # the built-in config is pipelines/study.conf, byte for byte
    assert_equal "$output" "$(cat "$ROOT/pipelines/study.conf")"
    # its detectors: 5 architectures x 6 roles, in Table 4's order
    run --separate-stderr score --print-detectors
    assert_success
    assert_line --index 0 $'detector\tXceptionNet1\tXceptionNet\tCELEB\toriginal\tnone'
    assert_line $'detector\tMesoNet2\tMesoNet\tCELEB\ttransfer\tCELEB,FS,NT'
    assert_line --index 29 $'detector\tShallowNet6\tShallowNet\tF2F\tmerge\tF2F,FS,NT'
    [ "${#lines[@]}" -eq 30 ]
    # the printed config is the built-in one
    score --print-config > cfg.tsv
    run --separate-stderr score --table 5 --dir "$FIX" --config cfg.tsv
    assert_equal "$output" "$(score --table 5 --dir "$FIX" 2>/dev/null)"
    printf 'unseen\tFS,NT\ndetector\tMesoNet1\tMesoNet\tCELEB\toriginal\tnone\n' > two.cfg
    run --separate-stderr score --table 5 --dir "$FIX" --config two.cfg
    assert_success
    assert_output "$(printf '%s\n' $'rank\tdetector\toriginal_acc\tFS_acc\tNT_acc\tunseen_avg_acc\tdegradation' \
        $'1\tMesoNet1\t95.00\t50.00\t55.00\t52.50\t42.50')"
    printf 'unseen\tFS\ndetector\tM1\tMesoNet\tCELEB\tstage9\tnone\n' > bad.cfg
    run --separate-stderr score --table 5 --dir "$FIX" --config bad.cfg
    assert_one_line_error "bad.cfg: line 2: stage 'stage9' is not original, transfer or merge"
    # roles x architectures, then detector lines; each made detector is checked as a written one
    printf 'unseen\tFS\nrole\ta\tCELEB\toriginal\tnone\nrole\tb\tCELEB\tmerge\tCELEB,FS\n' > r.cfg
    printf 'detector\tOwn1\tOwn\tF2F\toriginal\tnone\narchitecture\tm4\tMeso\treal\n' >> r.cfg
    run --separate-stderr score --print-detectors --config r.cfg
    assert_success
    assert_output "$(printf '%s\n' $'detector\tMesoa\tMeso\tCELEB\toriginal\tnone' \
        $'detector\tMesob\tMeso\tCELEB\tmerge\tCELEB,FS' $'detector\tOwn1\tOwn\tF2F\toriginal\tnone')"
    printf 'detector\tMesoa\tX\tF2F\toriginal\tnone\n' >> r.cfg
    run --separate-stderr score --print-detectors --config r.cfg
    assert_one_line_error "r.cfg: detector Mesoa given twice (a detector line and architecture Meso's role)"
    printf 'unseen\tFS\narchitecture\tm4\tMeso\treal\n' > norole.cfg
    run --separate-stderr score --print-detectors --config norole.cfg
    assert_one_line_error "norole.cfg: 'architecture' lines but no 'role' line"
    printf 'unseen\tFS\nrole\t1\tCELEB\ttransfer\tnone\n' > badrole.cfg
    run --separate-stderr score --print-detectors --config badrole.cfg
    assert_one_line_error "badrole.cfg: line 2: role 1: FINETUNE must be 'none' exactly when STAGE is original"
    printf 'unseen\tFS\narchitecture\tm4\tMeso\tboth\n' > badcam.cfg
    run --separate-stderr score --print-detectors --config badcam.cfg
    assert_one_line_error "badcam.cfg: line 2: architecture m4: CAM_CLASS 'both' is not real or fake"
    run --separate-stderr score --print-detectors --table 5
    assert_one_line_error "--print-detectors takes --config FILE only"
}

@test "score --table: bad score files and bad arguments fail in one line" {
    cp -r "$FIX" s
    printf '%s\n' "$HDR" $'fs/v/f1\tfs\t1\t2' > s/MesoNet1/FS.tsv
    run --separate-stderr score --table 5 --dir s
    assert_one_line_error "s/MesoNet1/FS.tsv: line 2: p_fake '2'"
    cp "$FIX/MesoNet1/FS.tsv" s/MesoNet1/NT.tsv
    cp "$FIX/MesoNet1/FS.tsv" s/MesoNet1/FS.tsv
    run --separate-stderr score --table 5 --dir s
    assert_one_line_error "s/MesoNet1/NT.tsv: line 2: dataset 'fs' in a file for NT"
    mkdir empty
    run --separate-stderr score --table 5 --dir empty
    assert_one_line_error "empty: no directory of any detector of the study config"
    run --separate-stderr score --table 8 --dir "$FIX"
    assert_one_line_error "--table"
    run --separate-stderr score --table 5
    assert_one_line_error "--table needs --dir"
    run --separate-stderr score --table 5 --dir "$FIX" --level both
    assert_one_line_error "--level must be frame or video"
    run --separate-stderr score --table 5 --dir "$FIX" x.tsv
    assert_one_line_error "--table reads --dir, not files"
    run --separate-stderr score --auc x.tsv
    assert_one_line_error "are for --table"
}
