#!/usr/bin/env bats
# cam --sheet: the contact sheet of heatmaps (the paper's Figure 2; lib/analysis/camsheet.c on
# lib/media/montage.c): layout, overlays, determinism, errors.
load helper

setup_file() {
    local d="$BATS_FILE_TMPDIR"
    "$ROOT/build/tests/test_cam" --make-ckpt meso4 64 "$d/meso4.ckpt"
    "$ROOT/bin/synth" --role fs --videos 2 --frames 2 --size 64 --seed 5 > "$d/faces.dft"
    "$ROOT/bin/cam" -m "$d/meso4.ckpt" -o "$d/heat.dft" < "$d/faces.dft"
}

# width and height of a PNG, from its IHDR chunk
png_size() {
    od -An -tu1 -j16 -N8 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 "x" $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'
}

@test "cam --sheet: a row per ROW, a column group per COL, K heatmaps each" {
    local d="$BATS_FILE_TMPDIR"
    run cam --sheet s.png --images "$d/faces.dft" --per-cell 2 --tile 32 \
        Det1,CELEB="$d/heat.dft" Det1,FS-I="$d/heat.dft" Det2,CELEB="$d/heat.dft"
    assert_success
    assert_output ''
    # labels column 8 glyphs of 6 px + 4 (short labels get 8) = 52 px, 4 tiles of 32 + 2 group gaps of 2 px;
    # a 13 px header and 2 rows of 33 px
    assert_equal "$(png_size s.png)" "$((52 + 4 * 32 + 2 * 2))x$((13 + 2 * 33))"
    # the same arguments, the same file; --per-cell 1 has half as many tile columns
    cam --sheet s2.png --images "$d/faces.dft" --per-cell 2 --tile 32 \
        Det1,CELEB="$d/heat.dft" Det1,FS-I="$d/heat.dft" Det2,CELEB="$d/heat.dft"
    cmp s.png s2.png
    cam --sheet s3.png --images "$d/faces.dft" --per-cell 1 --tile 32 Det1,CELEB="$d/heat.dft" Det1,NT="$d/heat.dft"
    assert_equal "$(png_size s3.png)" "$((52 + 2 * 32 + 2 * 2))x$((13 + 33))"
    # without --images the plain heatmaps: another picture of the same size
    cam --sheet s4.png --per-cell 1 --tile 32 Det1,CELEB="$d/heat.dft" Det1,NT="$d/heat.dft"
    assert_equal "$(png_size s4.png)" "$(png_size s3.png)"
    ! cmp -s s3.png s4.png
    assert_no_temporaries
}

@test "cam --sheet: errors name the file and the problem, and write nothing" {
    local d="$BATS_FILE_TMPDIR"
    "$ROOT/bin/synth" --role nt --videos 2 --frames 1 --size 64 --seed 9 > other.dft
    run --separate-stderr cam --sheet s.png --images other.dft Det1,FS="$d/heat.dft"
    assert_failure
    assert_equal "$stderr" "cam: $d/heat.dft: record 0: key 'fs/000/f00' is in none of the image streams"
    run --separate-stderr cam --sheet s.png Det1,FS="$d/heat.dft" Det1,FS="$d/heat.dft"
    assert_failure
    assert_equal "$stderr" "cam: $d/heat.dft: a second stream for row Det1, column FS"
    run --separate-stderr cam --sheet s.png Det1="$d/heat.dft"
    assert_failure
    assert_equal "$stderr" "cam: 'Det1=$d/heat.dft' is not ROW,COL=HEATMAPS.dft"
    run --separate-stderr cam --sheet s.png Det1,FS="$d/faces.dft"
    assert_success   # images are shown as they are (--compat study's heatmaps are RGB images)
    rm s.png
    run --separate-stderr cam --sheet s.png Det1,FS=nosuch.dft
    assert_failure
    [[ "$stderr" == "cam: nosuch.dft"* ]]
    run --separate-stderr cam --sheet s.png
    assert_failure
    assert_equal "$stderr" "cam: --sheet needs ROW,COL=HEATMAPS.dft arguments (see --help)"
    run --separate-stderr cam --sheet s.png -m "$d/meso4.ckpt" Det1,FS="$d/heat.dft"
    assert_failure
    assert_equal "$stderr" "cam: --sheet draws existing heatmaps: drop -m, -o and --png"
    run --separate-stderr cam -m "$d/meso4.ckpt" --images "$d/faces.dft"
    assert_failure
    assert_equal "$stderr" "cam: --images and ROW,COL=FILE arguments go with --sheet"
    run --separate-stderr cam --sheet s.png --tile 4 Det1,FS="$d/heat.dft"
    assert_failure
    assert_no_files s.png
    assert_no_temporaries
}

@test "cam --sheet: the pipeline's Figure 2 of 30 detectors x 9 test sets reads in a 900 px column" {
    local d="$BATS_FILE_TMPDIR" line flag cells=() args=()
    # the command study.mk runs for the demo with all five architectures (30 detectors)
    line=$(make -C "$ROOT" --no-print-directory -f pipelines/study.mk -n PROFILE=demo RUNS="$BATS_TEST_TMPDIR/r" \
        BIN="$ROOT/bin" "ARCHS=meso4 mesoinception4 shallownet xception efficientnet-b0" \
        "$BATS_TEST_TMPDIR/r/demo/figures/cams.png" | grep -- '/cam --sheet ')
    for flag in --per-cell --tile --font-scale; do
        args+=($(grep -o -- "$flag [0-9]*" <<< "$line"))
    done
    # every cell drawn from this file's heatmaps
    mapfile -t cells < <(grep -o '[A-Za-z0-9-]*,[A-Za-z0-9-]*=[^ ]*/rq3/cam/[^ ]*\.dft' <<< "$line" | sed "s|=.*|=$d/heat.dft|")
    [ "${#cells[@]}" -eq 270 ]
    cam --sheet s.png --images "$d/faces.dft" "${args[@]}" "${cells[@]}"
    # a Markdown viewer shows it unscaled (<= 900 px), row labels at least 14 px tall (the 5x7
    # font doubled), all 9 test-set labels apart by more than half a glyph's height
    run python3 "$ROOT/tests/sheet_labels.py" s.png
    assert_success
    read -r _ w _ glyph _ labels _ gap <<< "$output"
    [ "$w" -le 900 ] || fail "the sheet is $w px wide: $output"
    [ "$glyph" -ge 14 ] || fail "labels $glyph px tall: $output"
    [ "$labels" -eq 9 ] || fail "test-set labels run together: $output"
    [ "$gap" -ge $((glyph / 2)) ] || fail "test-set labels crowd each other: $output"
}
