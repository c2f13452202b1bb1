#!/usr/bin/env bats
# bench/synth-cross-role.sh makes its detectors with pipelines/study.mk's own rules and the demo
# profile: its dry run (-n, make -n; nothing is trained) must show exactly the train, predict and
# synth command lines that `make demo`'s study (make -n, same run directory) runs for those
# detectors, the profile's per-architecture settings included.
load helper

# study_n RUNS [VAR=value...]: the whole demo study's commands (make -n) in RUNS
study_n() {
    local runs=$1
    shift
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -n -f "$ROOT/pipelines/study.mk" \
        PROFILE=demo RUNS="$runs" BIN="$ROOT/bin" "$@" study
}

# demo VAR: VAR's value in the demo profile
demo() { sed -n "s/^$1 *:= *\\([^ ]*\\)\$/\\1/p" "$ROOT/pipelines/profiles/demo.mk"; }

# tools TOOL FILE: FILE's command lines that run bin/TOOL
tools() { grep -F "$ROOT/bin/$1 " "$2" || true; }

@test "bench/synth-cross-role.sh -n: its trainings, predictions and data are the demo study's, per-architecture settings included" {
    local w=$BATS_TEST_TMPDIR/w t
    run "$ROOT/bench/synth-cross-role.sh" -n -a "meso4 efficientnet-b0" -w "$w"
    assert_success
    printf '%s\n' "$output" > bench.txt
    study_n "$w" > study.txt
    # two architectures x six roles, and nothing else trained
    [ "$(tools train bench.txt | grep -o -- '-o [^ ]*/models/[^ ]*\.part\.ckpt' | sed 's|.*/models/||; s|\.part\.ckpt||' | sort | tr '\n' ' ')" = \
      "EfficientNet1 EfficientNet2 EfficientNet3 EfficientNet4 EfficientNet5 EfficientNet6 MesoNet1 MesoNet2 MesoNet3 MesoNet4 MesoNet5 MesoNet6 " ]
    # 12 detectors x 9 test sets
    [ "$(tools predict bench.txt | wc -l)" -eq 108 ]
    # every command line, whole, is one the demo study runs
    for t in train predict synth pack score; do
        [ "$(tools $t bench.txt | wc -l)" -gt 0 ] || fail "no $t command"
        run grep -vxFf study.txt <(tools $t bench.txt)
        assert_output ''
    done
    # the profile's EfficientNet settings reach its stage 1 (a copy of the protocol with the
    # shared EPOCHS1 and no LR1_efficientnet-b0 fails here and above)
    [ "$(demo LR1_efficientnet-b0)" != "" ] && [ "$(demo EPOCHS1_efficientnet-b0)" != "" ]
    [ "$(tools train bench.txt | grep -c -- "--arch efficientnet-b0 .*--epochs $(demo EPOCHS1_efficientnet-b0) .*--bn-recalibrate $(demo BN_RECALIBRATE) .*--lr $(demo LR1_efficientnet-b0) ")" -eq 2 ]
    # a dry run makes nothing
    run find "$w" -type f
    assert_output ''
}

@test "bench/synth-cross-role.sh -n -s 1: the original detectors only, each the demo study's" {
    local w=$BATS_TEST_TMPDIR/w t
    run "$ROOT/bench/synth-cross-role.sh" -n -s 1 -a shallownet -w "$w"
    assert_success
    printf '%s\n' "$output" > bench.txt
    study_n "$w" > study.txt
    [ "$(tools train bench.txt | grep -o -- '-o [^ ]*/models/[^ ]*\.part\.ckpt' | sed 's|.*/models/||; s|\.part\.ckpt||' | sort | tr '\n' ' ')" = \
      "ShallowNet1 ShallowNet4 " ]
    tools train bench.txt | grep -q -- "--arch shallownet .*--lr $(demo LR1_shallownet)"
    ! grep -q -- '--from ' bench.txt
    [ "$(tools predict bench.txt | wc -l)" -eq 18 ]
    for t in train predict synth; do
        run grep -vxFf study.txt <(tools $t bench.txt)
        assert_output ''
    done
    # the tables read a config of the original roles alone
    grep -q "cat $w/study-s1.conf" bench.txt
    [ "$(awk -F'\t' '$1 == "role" { print $2 }' "$w/study-s1.conf" | tr '\n' ' ')" = "1 4 " ]
}

@test "bench/synth-cross-role.sh -w: a kept run's table config of the other -s is remade, one of this -s kept" {
    local w=$BATS_TEST_TMPDIR/w
    # the -s 1 config the bench writes, made old; then a tables config of the original roles
    # alone (as -s 1 leaves it), newer than every prerequisite
    run "$ROOT/bench/synth-cross-role.sh" -n -s 1 -w "$w"
    assert_success
    touch -d 2000-01-01 "$w/study-s1.conf"
    mkdir -p "$w/demo/tables"
    awk -F'\t' '$1 != "role" || $4 == "original"' "$ROOT/pipelines/study.conf" > "$w/demo/tables/config.tsv"
    run "$ROOT/bench/synth-cross-role.sh" -n -s 123 -w "$w"
    assert_success
    [ "$(grep -c -- "score --print-detectors --config $w/demo/tables/config.tsv" <<< "$output")" -eq 1 ]
    run "$ROOT/bench/synth-cross-role.sh" -n -s 1 -w "$w"
    assert_success
    refute_output --partial -- '--print-detectors'
    # and the other way round
    cp "$ROOT/pipelines/study.conf" "$w/demo/tables/config.tsv"
    run "$ROOT/bench/synth-cross-role.sh" -n -s 1 -w "$w"
    [ "$(grep -c -- "score --print-detectors --config $w/demo/tables/config.tsv" <<< "$output")" -eq 1 ]
    run "$ROOT/bench/synth-cross-role.sh" -n -s 123 -w "$w"
    refute_output --partial -- '--print-detectors'
}

@test "bench/synth-cross-role.sh: -t sets every job's threads (default the profile's)" {
    local w=$BATS_TEST_TMPDIR/w
    run "$ROOT/bench/synth-cross-role.sh" -n -s 1 -w "$w"
    assert_success
    [ "$(grep -c -- "--threads $(demo THREADS) " <<< "$output")" -eq "$(grep -c -- '--threads ' <<< "$output")" ]
    run "$ROOT/bench/synth-cross-role.sh" -n -s 1 -t 3 -w "$w"
    assert_success
    [ "$(grep -c -- '--threads 3 ' <<< "$output")" -eq "$(grep -c -- '--threads ' <<< "$output")" ]
    [ "$(grep -c -- '--threads 3 ' <<< "$output")" -gt 20 ]
}

@test "bench/synth-cross-role.sh: bad options are refused with a usage line" {
    run "$ROOT/bench/synth-cross-role.sh" -n -s 2
    assert_failure 2
    assert_output --partial "-s: '2' is not 1 or 123"
    run "$ROOT/bench/synth-cross-role.sh" -n -j 0
    assert_failure 2
    assert_output --partial "-j: '0' is not a positive number"
    run "$ROOT/bench/synth-cross-role.sh" -n -t x
    assert_failure 2
    assert_output --partial "-t: 'x' is not a positive number"
    run "$ROOT/bench/synth-cross-role.sh" -n extra
    assert_failure 2
    assert_output --partial "unexpected argument 'extra'"
}
