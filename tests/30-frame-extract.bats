#!/usr/bin/env bats
# frame-extract on real media from Debian's opencv-doc: Megamind.avi (270 frames, 23.976 fps)
# and messi5.jpg (a still image is a one-frame video).
load helper

MEGAMIND=/usr/share/doc/opencv-doc/examples/data/Megamind.avi
MESSI=/usr/share/doc/opencv-doc/examples/data/messi5.jpg

need_media() { [ -f "$MEGAMIND" ] && [ -f "$MESSI" ] || skip "test requires opencv-doc"; }

# "key dataset frame time" for every record (metadata is plain text inside the stream)
meta() {
    grep -a -o -E '(key|dataset|frame|time)=[^[:cntrl:]]*' "$1" | cut -d= -f2 | paste -d' ' - - - -
}
# the first record's shape, outermost first
shape() { od -An -t u8 -j 32 -N 24 "$1" | xargs; }

@test "frame-extract: --help and bad flags" {
    run frame-extract --help
    assert_success
    assert_output --partial "parallel -k"
    run --separate-stderr frame-extract --bogus x.mp4
    assert_failure
    [ "$stderr" = "frame-extract: --bogus: unknown option (see --help)" ]
    run --separate-stderr frame-extract -n 0 x.mp4
    assert_failure
    run --separate-stderr frame-extract
    assert_failure
}

@test "frame-extract: 10 evenly spaced frames of Megamind.avi with keys, frame and time" {
    need_media
    frame-extract --dataset mm "$MEGAMIND" > f.dft
    run meta f.dft
    assert_success
    [ "${#lines[@]}" -eq 10 ]
    assert_line --index 0 "mm/Megamind/f00 mm 0 0.000000"
    assert_line --index 1 "mm/Megamind/f01 mm 29 1.209543"
    assert_line --index 9 "mm/Megamind/f09 mm 269 11.219553"
    [ "$(shape f.dft)" = "528 720 3" ]
}

@test "frame-extract: seeking gives the same bytes as decoding every frame" {
    need_media
    frame-extract -n 7 "$MEGAMIND" "$MESSI" > seek.dft
    frame-extract -n 7 --sequential "$MEGAMIND" "$MESSI" > seq.dft
    cmp seek.dft seq.dft
    frame-extract --every 50 "$MEGAMIND" > a.dft
    frame-extract --every 50 --sequential "$MEGAMIND" > b.dft
    cmp a.dft b.dft
    run meta a.dft
    [ "${#lines[@]}" -eq 6 ]
    assert_line --index 5 --partial "video/Megamind/f05 video 250 "
}

@test "frame-extract: a JPEG is a one-frame video" {
    need_media
    frame-extract -n 10 "$MESSI" > m.dft
    run meta m.dft
    assert_success
    assert_output "video/messi5/f00 video 0 0.000000"
    [ "$(shape m.dft)" = "342 548 3" ]
}

@test "frame-extract: a broken video is reported and skipped, the others are written" {
    need_media
    head -c 3000 "$MEGAMIND" > cut.avi
    printf 'not a video' > junk.mp4
    run --separate-stderr frame-extract -n 3 -o out.dft "$MESSI" cut.avi "$MEGAMIND" junk.mp4
    [ "$status" -eq 2 ]
    [[ "${stderr_lines[0]}" == "frame-extract: cut.avi: "* ]]
    [[ "${stderr_lines[1]}" == "frame-extract: junk.mp4: "* ]]
    assert_equal "${stderr_lines[2]}" "frame-extract: 4 videos: 2 extracted (4 frames), 2 failed"
    run meta out.dft
    [ "${#lines[@]}" -eq 4 ]
    assert_line --index 0 --partial "video/messi5/f00"
    assert_line --index 3 --partial "video/Megamind/f02 video 269"
    assert_no_temporaries
}

@test "frame-extract: --jobs keeps the sequential order and bytes" {
    need_media
    frame-extract -n 4 "$MEGAMIND" "$MESSI" "$MEGAMIND" > one.dft
    frame-extract -n 4 -j 2 "$MEGAMIND" "$MESSI" "$MEGAMIND" > two.dft
    cmp one.dft two.dft
    parallel -k -j2 frame-extract -n 4 {} ::: "$MEGAMIND" "$MESSI" "$MEGAMIND" > par.dft
    cmp one.dft par.dft
}
