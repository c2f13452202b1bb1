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
    run --separate-stderr crop --cascade /nonexistent.xml < /dev/null
    assert_failure
    [[ "$stderr" == "crop: /nonexistent.xml: cannot open: "* ]]
    run --separate-stderr crop --detector /nonexistent.xml < /dev/null
    assert_failure
    [ "$stderr" = "crop: --detector: '/nonexistent.xml': want hog or haar (a cascade file is --cascade)" ]
    run --separate-stderr crop --detector hog --min-face 20 < /dev/null
    assert_failure
    [ "$stderr" = "crop: --min-face, --scale-factor and --min-neighbors are for --detector haar" ]
    run --separate-stderr crop --detector hog --hog-model /nonexistent.txt < /dev/null
    assert_failure
    [[ "$stderr" == "crop: /nonexistent.txt: cannot open: "* ]]
    # a model whose bytes differ from the committed one is refused
    sed 's/^row 0\./row 1./' "$ROOT/lib/face/frontal_face_fhog.txt" > m.txt
    ! cmp -s m.txt "$ROOT/lib/face/frontal_face_fhog.txt"
    run --separate-stderr crop --detector hog --hog-model m.txt < /dev/null
    assert_failure
    [[ "$stderr" == "crop: m.txt: checksum mismatch (sha256 "* ]]
    assert_no_temporaries
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

@test "crop --detector hog: dlib's largest face per frame, landmarks and crops as with haar" {
    need_media
    frame-extract -n 10 --dataset ref "$MEGAMIND" > f.dft
    run --separate-stderr crop --detector hog -o faces.dft f.dft
    assert_success
    assert_equal "${stderr_lines[0]}" "crop: ref/Megamind/f00: no face"
    assert_equal "${stderr_lines[1]}" "crop: 10 frames: 9 cropped, 1 without a face"
    # the boxes are dlib's (tests/make-fixtures-fhog.py): the largest rectangle of each frame,
    # (left, top, right, bottom) as x, y, w, h
    awk -F'\t' '$1 ~ /^ref\/Megamind\// && $2 != "-" {
        a = ($4 - $2 + 1) * ($5 - $3 + 1)
        if (!($1 in best) || a > best[$1]) { best[$1] = a; box[$1] = $2 "," $3 "," ($4 - $2 + 1) "," ($5 - $3 + 1) } }
        END { for (k in box) print k, box[k] }' "$ROOT/tests/fixtures/face/dlib-hog.tsv" | sort > want.txt
    [ "$(wc -l < want.txt)" -eq 9 ]
    paste -d' ' <(meta key faces.dft) <(meta box faces.dft) > got.txt
    diff want.txt got.txt
    [ "$(meta landmarks faces.dft | head -1 | tr ',' '\n' | wc -l)" -eq 136 ]
    [ "$(shape faces.dft)" = "256 256 3" ]
    crop --detector hog -j 2 < f.dft > two.dft 2>/dev/null
    cmp faces.dft two.dft
    run --separate-stderr crop --detector hog --upsample 5 f.dft
    assert_failure
    [[ "$stderr" == "crop: --upsample: "* ]]
    assert_no_temporaries
}
