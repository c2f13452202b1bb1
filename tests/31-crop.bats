#!/usr/bin/env bats
# crop's command line on real frames (opencv-doc's Megamind.avi). Agreement with OpenCV's boxes
# and dlib's landmarks is checked by tests/unit/test_face.c against committed references.
load helper

MEGAMIND=/usr/share/doc/opencv-doc/examples/data/Megamind.avi

need_media() {
    [ -f "$MEGAMIND" ] || skip "test requires opencv-doc"
    [ -f /usr/share/dlib/shape_predictor_68_face_landmarks.dat ] || skip "test requires libdlib-data"
    requires opencv-data
}
meta() { grep -a -o -E "$1=[^[:cntrl:]]*" "$2" | cut -d= -f2; }
shape() { od -An -t u8 -j 32 -N 24 "$1" | xargs; }

@test "crop: --help and bad flags" {
    run crop --help
    assert_success
    assert_output --partial "--no-align"
    run --separate-stderr crop --bogus
    assert_failure
    [ "$stderr" = "crop: --bogus: unknown option (see --help)" ]
    run --separate-stderr crop --detector /nonexistent.xml < /dev/null
    assert_failure
    [[ "$stderr" == "crop: /nonexistent.xml: cannot open: "* ]]
}

@test "crop: faces with box and landmarks; frames without a face are listed, not invented" {
    need_media
    frame-extract -n 3 --dataset mm "$MEGAMIND" > f.dft
    run --separate-stderr crop -o faces.dft f.dft
    assert_success
    assert_equal "${stderr_lines[0]}" "crop: mm/Megamind/f00: no face"
    assert_equal "${stderr_lines[1]}" "crop: 3 frames: 2 cropped, 1 without a face"
    run meta key faces.dft
    assert_output $'mm/Megamind/f01\nmm/Megamind/f02'
    run meta box faces.dft
    assert_output $'386,153,185,185\n254,74,322,322'
    [ "$(meta landmarks faces.dft | head -1 | tr ',' '\n' | wc -l)" -eq 136 ]
    [ "$(meta frame faces.dft | xargs)" = "134 269" ]
    [ "$(shape faces.dft)" = "256 256 3" ]
    assert_no_temporaries
}

@test "crop: --boxes, --no-align, --size and --jobs" {
    need_media
    frame-extract -n 3 --dataset mm "$MEGAMIND" > f.dft
    printf '# key\tx\ty\tw\th\nmm/Megamind/f00\t100\t100\t200\t150\n' > boxes.tsv
    run --separate-stderr crop --boxes boxes.tsv --no-align --size 64 -o b.dft f.dft
    assert_success
    assert_equal "${stderr_lines[2]}" "crop: 3 frames: 1 cropped, 2 without a face"
    [ "$(meta box b.dft)" = "100,100,200,150" ]
    [ "$(shape b.dft)" = "64 64 3" ]
    crop -j 1 f.dft > one.dft 2>/dev/null
    crop -j 2 < f.dft > two.dft 2>/dev/null
    cmp one.dft two.dft
    printf 'mm/Megamind/f00\t1\t2\n' > bad.tsv
    run --separate-stderr crop --boxes bad.tsv f.dft
    assert_failure
    [ "$stderr" = "crop: bad.tsv: line 1: want key, x, y, w, h" ]
}
