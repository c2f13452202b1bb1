#!/usr/bin/env bats
# The bad-input matrix, part 1: the data tools (synth, pack, frame-extract, crop, score, ssim).
# Part 2 (tests/91-bad-input-models.bats) has the tools that read checkpoints. One test per cell;
# every failing cell checks the whole contract through `bad` (tests/badinput.bash): non-zero
# exit, exactly one stderr line "tool: ...FILE...problem", no output and no temporary left, the
# inputs byte-identical. Cells a tool has no use for are absent (synth reads no input).
#
#   cell                  synth pack frame-extract crop score ssim
#   missing file            .    x        x         x    x     x
#   empty file              .    ok(1)    x         ok(1) x    x
#   truncated stream/TSV    .    x        x(2)      x    x     x
#   wrong magic/header      .    x        x(2)      x    x     x
#   wrong dtype or shape    .    x        .         x    x(3)  x
#   NaN/Inf in data         .    .        .         .    x     x
#   corrupt PNG / video     .    x        x         .    .     .
#   corrupt model file      .    .        .         x(4) .     .
#   unknown flag            x    x        x         x    x     x
#   unwritable output dir   x    x        x         x    x     x
#   full disk               x    x        x         x    x     x
# (1) zero bytes is a valid, empty stream (formats/tensor-stream.md): success, empty output.
# (2) a video that is cut short or is not a video at all.
# (3) a tensor stream given where a score TSV belongs.
# (4) the Haar cascade XML and the dlib landmark model, truncated.
load badinput

setup_file() { make_fixtures; }

# ---- synth ----
@test "synth: unknown flag" {
    bad synth "" "--bogus" -- synth --role fs --bogus
}

@test "synth: unwritable output directory" {
    readonly_dir ro
    bad synth ro/png "Read-only file system" -- synth --role fs --videos 2 --frames 1 --size 32 --png ro/png
    bad synth ro/sheet.png "Read-only file system" -- synth --sheet ro/sheet.png --videos 2 --size 32
}

@test "synth: full disk" {
    full_dir full
    bad synth full/png "No space left on device" -- synth --role fs --videos 2 --frames 1 --size 32 --png full/png
}

@test "synth: full disk on stdout (/dev/full)" {
    bad synth "<stdout>" "No space left on device" -- sh -c 'synth --role fs --videos 2 --frames 1 --size 32 > /dev/full'
}

# ---- pack ----
@test "pack: missing file" {
    bad pack nothere.dft "No such file or directory" -- pack nothere.dft -o out.dft
}

@test "pack: empty file is an empty stream" {
    : > empty.dft
    run pack empty.dft -o out.dft
    assert_success
    [ -f out.dft ] && [ ! -s out.dft ]
}

@test "pack: truncated stream" {
    fixture img.dft
    head -c 5000 img.dft > cut.dft
    bad pack cut.dft "record 1: truncated payload" -- pack cut.dft -o out.dft
}

@test "pack: wrong magic" {
    fixture img.dft
    patch img.dft 0 'X'
    bad pack img.dft "record 0: bad magic" -- pack --shuffle img.dft -o out.dft
}

@test "pack: wrong dtype for --unpack (f32 heatmap)" {
    f32s half 1024 > p.bin
    record 9 1 'key=fs/a/f00\ndataset=fs\n' p.bin 32 32 > heat.dft
    rm p.bin
    bad pack heat.dft "not an u8 HxWx3 image" -- pack --unpack dir heat.dft
}

@test "pack: corrupt PNG" {
    head -c 60 "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" > cut.png
    bad pack cut.png "cut.png" -- pack --label real cut.png -o out.dft
}

@test "pack: corrupt PNG listed in a manifest" {
    head -c 60 "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" > cut.png
    printf 'path\tlabel\ncut.png\t1\n' > m.tsv
    bad pack cut.png "m.tsv: line 2" -- pack --manifest m.tsv -o out.dft
}

# the resize fails in the library (lib/media/image.c), which returns the error for pack to name
# the input: the image limit is 2^28 pixels, --size allows up to 32768
@test "pack: --size beyond the image limit, on a stream record" {
    fixture img.dft
    bad pack img.dft "record 0: image size 32768x32768x3 outside the supported range" -- pack --size 32768 img.dft -o out.dft
}

@test "pack: --size beyond the image limit, on a PNG" {
    cp "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" a.png
    bad pack a.png "a.png: image size 32768x32768x3 outside the supported range" -- pack --label real --size 32768 a.png -o out.dft
}

@test "pack: a manifest named without a directory reads its paths from the current one" {
    # a bare name has no directory to prefix (the fuzz replay checks it under UBSan: make sanitize)
    cp "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" a.png
    printf 'path\tlabel\na.png\t1\n' > m.tsv
    run pack --manifest m.tsv -o bare.dft
    assert_success
    pack --manifest ./m.tsv -o dotted.dft
    cmp bare.dft dotted.dft
    [ "$(pack --list bare.dft | cut -f2,3)" = "$(printf "a\tfake")" ]
}

@test "pack: unknown flag" {
    bad pack "" "'--bogus'" -- pack --bogus
}

@test "pack: unwritable output directory" {
    fixture img.dft
    readonly_dir ro
    bad pack ro/out.dft "Read-only file system" -- pack img.dft -o ro/out.dft
    bad pack ro/dir "Read-only file system" -- pack --unpack ro/dir img.dft
}

@test "pack: full disk" {
    fixture img.dft
    full_dir full
    bad pack full/out.dft "No space left on device" -- pack img.dft -o full/out.dft
    bad pack full/dir "No space left on device" -- pack --unpack full/dir img.dft
}

# ---- frame-extract ----
make_video() {
    synth --role fs --videos 2 --frames 3 --size 64 --video vids
    mv vids/fake/*.mp4 v.mp4
    rm -r vids
}

@test "frame-extract: missing file" {
    bad frame-extract nothere.mp4 "No such file or directory" -- frame-extract -n 2 nothere.mp4 -o out.dft
}

@test "frame-extract: empty file" {
    : > empty.mp4
    bad frame-extract empty.mp4 "cannot open" -- frame-extract -n 2 empty.mp4 -o out.dft
}

@test "frame-extract: truncated video" {
    make_video
    head -c 1500 v.mp4 > cut.mp4
    rm v.mp4
    bad frame-extract cut.mp4 "" -- frame-extract -n 2 cut.mp4 -o out.dft   # the reason is FFmpeg's
}

@test "frame-extract: not a video (wrong magic)" {
    fixture img.dft
    bad frame-extract img.dft "cannot open" -- frame-extract -n 2 img.dft -o out.dft
}

@test "frame-extract: unknown flag" {
    bad frame-extract "" "--bogus" -- frame-extract --bogus
}

@test "frame-extract: unwritable output directory" {
    make_video
    readonly_dir ro
    bad frame-extract ro/out.dft "Read-only file system" -- frame-extract -n 2 v.mp4 -o ro/out.dft
}

@test "frame-extract: full disk" {
    make_video
    full_dir full
    bad frame-extract full/out.dft "No space left on device" -- frame-extract -n 2 v.mp4 -o full/out.dft
}

# ---- crop ----
@test "crop: missing file" {
    bad crop nothere.dft "No such file or directory" -- crop nothere.dft -o out.dft
}

@test "crop: empty file is an empty stream" {
    : > empty.dft
    run crop empty.dft -o out.dft
    assert_success
    [ -f out.dft ] && [ ! -s out.dft ]
}

@test "crop: truncated stream" {
    fixture img.dft
    head -c 5000 img.dft > cut.dft
    rm img.dft
    bad crop cut.dft "record 1: truncated payload" -- crop cut.dft -o out.dft
}

@test "crop: wrong magic" {
    fixture img.dft
    patch img.dft 0 'X'
    bad crop img.dft "bad magic" -- crop img.dft -o out.dft
}

@test "crop: wrong dtype (f32) and wrong shape (HxW)" {
    f32s half 1024 > p.bin
    record 9 1 'key=fs/a/f00\n' p.bin 32 32 > heat.dft
    head -c 3072 /dev/urandom > p.bin
    record 1 1 'key=fs/a/f00\n' p.bin 32 96 > flat.dft
    rm p.bin
    bad crop heat.dft "not an RGB image record" -- crop heat.dft -o out.dft
    bad crop flat.dft "not an RGB image record" -- crop flat.dft -o out.dft
}

@test "crop: corrupt detector and landmark model files" {
    requires opencv-data
    [ -f /usr/share/dlib/shape_predictor_68_face_landmarks.dat ] || skip "test requires libdlib-data"
    fixture img.dft
    head -c 1000 /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml > c.xml
    head -c 100000 /usr/share/dlib/shape_predictor_68_face_landmarks.dat > l.dat
    bad crop c.xml "no <cascade> element" -- crop --cascade c.xml img.dft -o out.dft
    bad crop l.dat "" -- crop --landmarks l.dat img.dft -o out.dft
    head -c 5000 "$ROOT/lib/face/frontal_face_fhog.txt" > h.txt
    bad crop h.txt "checksum mismatch" -- crop --detector hog --hog-model h.txt img.dft -o out.dft
}

@test "crop: unknown flag" {
    bad crop "" "--bogus" -- crop --bogus
}

@test "crop: unwritable output directory" {
    fixture img.dft
    readonly_dir ro
    bad crop ro/out.dft "Read-only file system" -- crop --boxes /dev/null img.dft -o ro/out.dft
}

@test "crop: full disk" {
    fixture img.dft
    printf 'fs/000/f00\t4\t4\t20\t20\n' > boxes.tsv
    full_dir full
    bad crop full/out.dft "No space left on device" -- crop --no-align --boxes boxes.tsv img.dft -o full/out.dft
}

# ---- score ----
make_scores() {
    printf 'key\tdataset\tlabel\tp_fake\n' > s.tsv
    printf 'fs/a/f00\tfs\t0\t0.25\nfs/b/f00\tfs\t1\t0.75\n' >> s.tsv
}

@test "score: missing file" {
    bad score nothere.tsv "No such file or directory" -- score nothere.tsv -o out.tsv
}

@test "score: empty file" {
    : > empty.tsv
    bad score empty.tsv "empty file" -- score empty.tsv -o out.tsv
}

@test "score: truncated TSV" {
    make_scores
    head -c 50 s.tsv > cut.tsv
    bad score cut.tsv "line 3: 1 tab-separated field, expected 4" -- score cut.tsv -o out.tsv
}

@test "score: wrong header" {
    make_scores
    sed -i '1s/key/kex/' s.tsv
    bad score s.tsv "line 1: header is not" -- score s.tsv -o out.tsv
}

@test "score: a tensor stream instead of a TSV" {
    fixture img.dft
    bad score img.dft "line 1: " -- score img.dft -o out.tsv
}

@test "score: NaN and Inf P(fake)" {
    make_scores
    sed 's/0.25$/nan/' s.tsv > nan.tsv
    sed 's/0.75$/inf/' s.tsv > inf.tsv
    bad score nan.tsv "line 2: p_fake 'nan' is not a number in [0,1]" -- score nan.tsv -o out.tsv
    bad score inf.tsv "line 3: p_fake 'inf' is not a number in [0,1]" -- score inf.tsv -o out.tsv
}

@test "score: unknown flag" {
    bad score "" "--bogus" -- score --bogus
}

@test "score: unwritable output directory" {
    make_scores
    readonly_dir ro
    bad score ro/out.tsv "Read-only file system" -- score s.tsv -o ro/out.tsv
}

@test "score: full disk" {
    make_scores
    full_dir full
    bad score full/out.tsv "No space left on device" -- score s.tsv -o full/out.tsv
}

# ---- ssim ----
@test "ssim: missing file" {
    fixture img.dft
    bad ssim nothere.dft "No such file or directory" -- ssim img.dft nothere.dft -o out.tsv
}

@test "ssim: empty file" {
    fixture img.dft
    : > empty.dft
    bad ssim empty.dft "key 'fs/000/f00' (img.dft record 0) is missing" -- ssim img.dft empty.dft -o out.tsv
}

@test "ssim: truncated stream" {
    fixture img.dft
    head -c 5000 img.dft > cut.dft
    bad ssim cut.dft "record 1: truncated payload" -- ssim img.dft cut.dft -o out.tsv
}

@test "ssim: wrong magic" {
    fixture img.dft
    cp img.dft b.dft
    patch b.dft 0 'X'
    bad ssim b.dft "bad magic" -- ssim img.dft b.dft -o out.tsv
}

@test "ssim: wrong dtype (i32) and shapes that disagree" {
    head -c 4096 /dev/zero > p.bin
    record 5 1 'key=a/b/f00\n' p.bin 32 32 > i32.dft
    record 9 1 'key=a/b/f00\n' p.bin 32 32 > f.dft
    head -c 2048 /dev/zero > p.bin
    record 9 1 'key=a/b/f00\n' p.bin 32 16 > g.dft
    rm p.bin
    bad ssim i32.dft "i32" -- ssim i32.dft i32.dft -o out.tsv
    bad ssim g.dft "a/b/f00" -- ssim f.dft g.dft -o out.tsv
}

@test "ssim: NaN and Inf in a heatmap" {
    f32s half 1024 > p.bin
    record 9 1 'key=a/b/f00\n' p.bin 32 32 > f.dft
    { f32s half 1000; f32s nan 24; } > p.bin
    record 9 1 'key=a/b/f00\n' p.bin 32 32 > nan.dft
    { f32s inf 1; f32s half 1023; } > p.bin
    record 9 1 'key=a/b/f00\n' p.bin 32 32 > inf.dft
    rm p.bin
    bad ssim nan.dft "element 1000 is not finite" -- ssim f.dft nan.dft -o out.tsv
    bad ssim inf.dft "element 0 is not finite" -- ssim inf.dft f.dft -o out.tsv
}

@test "ssim: unknown flag" {
    bad ssim "" "--bogus" -- ssim --bogus
}

@test "ssim: unwritable output directory" {
    fixture img.dft
    readonly_dir ro
    bad ssim ro/out.tsv "Read-only file system" -- ssim img.dft img.dft -o ro/out.tsv
    bad ssim ro/hist.tsv "Read-only file system" -- ssim img.dft img.dft --hist ro/hist.tsv -o out.tsv
}

@test "ssim: full disk" {
    fixture img.dft
    full_dir full
    bad ssim full/out.tsv "No space left on device" -- ssim img.dft img.dft -o full/out.tsv
}

# ---- an output that is an input: refused before anything is written ----
# (compared by device and inode: another spelling or a hard link is the same file)
@test "pack, frame-extract, crop, score, ssim: an output that is an input is refused" {
    fixture img.dft
    make_video
    ln img.dft hard.dft
    printf 'key\tdataset\tlabel\tp_fake\na/v/f0\tfs\t1\t0.5\nb/v/f0\tfs\t0\t0.2\n' > s.tsv
    bad pack img.dft "is also the input img.dft" -- pack img.dft -o img.dft
    bad pack ./hard.dft "is also the input img.dft" -- pack --shuffle img.dft -o ./hard.dft
    bad pack img.dft "is also the input" -- pack --split 0.5 img.dft -o a.dft -o img.dft
    bad frame-extract v.mp4 "is also the input v.mp4" -- frame-extract -n 2 v.mp4 -o v.mp4
    bad crop img.dft "is also the input img.dft" -- crop --no-align --boxes s.tsv img.dft -o img.dft
    bad score s.tsv "is also the input s.tsv" -- score s.tsv -o s.tsv
    bad ssim img.dft "is also the input img.dft" -- ssim img.dft hard.dft -o ./img.dft
    bad ssim hard.dft "is also the input" -- ssim img.dft img.dft --hist hard.dft
}

@test "pack --split: the same output twice is refused before anything is written" {
    fixture img.dft
    bad pack a.dft "given twice as an output" -- pack --split 0.5 img.dft -o a.dft -o a.dft
    bad pack ./a.dft "given twice as an output (also as a.dft)" -- pack --split 0.5 img.dft -o a.dft -o ./a.dft
}

# ---- inputs from a pipe, a FIFO or process substitution ----
@test "pack: a stream and a PNG from process substitution or a FIFO, read once" {
    fixture img.dft
    run pack <(cat img.dft) -o o.dft
    assert_success
    cmp o.dft img.dft
    mkfifo in.fifo
    cat img.dft > in.fifo &
    run timeout 60 pack --shuffle --seed 1 in.fifo -o s1.dft
    assert_success
    pack --shuffle --seed 1 img.dft -o s2.dft
    cmp s1.dft s2.dft
    cp "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" a.png
    pack --label real a.png -o p1.dft
    mkdir f
    mkfifo f/a.png
    cat a.png > f/a.png &
    # the key comes from the name given, the pixels from the FIFO
    run timeout 60 pack --label real --root f f/a.png -o p2.dft
    assert_success
    cmp p1.dft p2.dft
    assert_no_temporaries .
}

@test "pack: an error in a piped input names the path given, not a temporary copy" {
    fixture img.dft
    head -c 5000 img.dft > cut.dft
    mkfifo in.fifo
    cat cut.dft > in.fifo &
    bad pack in.fifo "in.fifo: record 1: truncated payload" -- timeout 60 pack in.fifo -o out.dft
    [[ "$stderr" != *"/proc/"* ]]
}

@test "frame-extract: a video from a FIFO is refused in one line, without hanging" {
    make_video
    mkfifo v.fifo
    sleep 60 > v.fifo &   # a writer that never writes: FFmpeg would wait on it for ever
    local writer=$!
    run --separate-stderr timeout 30 frame-extract -n 2 v.fifo -o out.dft
    kill "$writer" 2> /dev/null || true
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$stderr" == *"frame-extract: v.fifo: not a regular file"*"pipe"* ]]
    [ ! -e out.dft ]
}

# ---- messages that name the right thing (#20 item 9) ----
@test "synth --video: a disk that fills in the middle of a video says No space left on device" {
    can_mount || skip "full disk: needs root and mount (tmpfs), not available here"
    mkdir full
    mount -t tmpfs -o size=256k tmpfs full
    MOUNTS+=("$PWD/full")
    local c mid=0
    # fill the disk to leave from 80 KiB to nothing: somewhere the H.264 writer itself runs out
    for ((c = 44; c <= 64; c++)); do
        rm -rf full/vids full/filler
        dd if=/dev/zero of=full/filler bs=4k count="$c" status=none 2> /dev/null || true
        run --separate-stderr synth --role fs --videos 2 --frames 10 --size 128 --video full/vids
        [ "$status" -eq 0 ] && continue
        [ "${#stderr_lines[@]}" -eq 1 ] || fail "more than one line: $stderr"
        [[ "$stderr" == "synth: full/vids/"*"No space left on device" ]] || fail "at $c pages: $stderr"
        [[ "$stderr" == *".mp4: write:"* ]] && mid=1
    done
    [ "$mid" = 1 ] || fail "no fill level made the video writer fail"
}

@test "pack: out of memory on a PNG bomb or a huge record names the file and record" {
    python3 -c "
import struct, zlib
w = h = 12000
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
z = zlib.compressobj(9)
idat = b''.join(z.compress(b'\0' * (w * 3 + 1)) for _ in range(h)) + z.flush()
open('bomb.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
                             + chunk(b'IDAT', idat) + chunk(b'IEND', b''))"
    bad pack bomb.png "bomb.png: out of memory allocating 432000000 bytes" -- \
        sh -c 'ulimit -v 600000; exec pack --label real bomb.png -o out.dft'
    # a record that claims 1.9 GB, read from a pipe (a file's size would show the truncation)
    header 1 1 0 1900000000 1900000000 > claim.dft
    bad pack "<stdin>" "record 0: payload of 1900000000 bytes: out of memory allocating" -- \
        sh -c 'ulimit -v 600000; cat claim.dft | pack -o out.dft'
}

@test "pack, crop: a text file, a non-PNG with --label, a one-channel image are named as such" {
    printf 'hello world text!\n' > t.dft
    bad pack t.dft "record 0: text, not a tensor stream" -- pack t.dft -o out.dft
    printf 'hello world text!\n' > x.png
    bad pack x.png "x.png: not a PNG file (--label" -- pack --label real x.png -o out.dft
    head -c $((64 * 64)) /dev/zero > p.bin
    record 1 1 'key=a/b/f0\n' p.bin 64 64 1 > gray.dft
    rm p.bin
    run --separate-stderr crop --no-align --boxes /dev/null gray.dft -o out.dft
    [[ "${stderr_lines[0]}" == "crop: gray.dft: record 0 (a/b/f0): not an RGB image record (expected an u8 image of shape HxWx3, got u8 64x64x1)" ]] || fail "$stderr"
}

@test "crop: the Haar cascade and the landmark model from process substitution" {
    requires opencv-data
    local lm=/usr/share/dlib/shape_predictor_68_face_landmarks.dat xml=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
    [ -f "$lm" ] || skip "needs dlib's shape_predictor_68_face_landmarks.dat"
    synth --role fs --videos 2 --frames 2 --size 128 --seed 1 > faces.dft
    crop --size 32 faces.dft -o want.dft 2> /dev/null
    [ -s want.dft ]
    run crop --size 32 --cascade <(cat "$xml") --landmarks <(cat "$lm") faces.dft -o got.dft
    assert_success
    cmp want.dft got.dft
    bad crop /dev/fd/ "no <cascade> element" -- bash -c "crop --cascade <(head -c 100 '$xml') faces.dft -o out.dft"
}
