#!/usr/bin/env bats
# pipelines/manifest.sh and pipelines/extract-set.sh on miniature dataset trees in the real
# layouts, made of synth's MP4 videos.
load helper
load dataset-trees

MAN="$ROOT/pipelines/manifest.sh"
EXT="$ROOT/pipelines/extract-set.sh"
TAB=$'\t'

# Trees shared by the tests (built once): tests/dataset-trees.bash.
setup_file() {
    make_dataset_trees "$BATS_FILE_TMPDIR"
}

# the video column (or another column) of a manifest, without the header, on one line
col() { tail -n +2 | cut -f"$1" | tr '\n' ' '; }

@test "manifest.sh --help; bad arguments fail with one line" {
    run "$MAN" --help
    assert_success
    assert_output --partial "usage: pipelines/manifest.sh KIND ROOT"
    run --separate-stderr "$MAN" ff++ "$BATS_FILE_TMPDIR/ff" --bogus
    assert_failure
    assert_equal "$stderr" "manifest.sh: unknown option '--bogus' (see --help)"
    run --separate-stderr "$MAN" uadfv "$BATS_FILE_TMPDIR/ff"
    assert_failure
    assert_equal "$stderr" "manifest.sh: unknown KIND 'uadfv' (ff++, celeb-v2, celeb-v1, dfd, fs-i, nt-i)"
    run --separate-stderr "$MAN" ff++ "$BATS_FILE_TMPDIR/ff" --split dev
    assert_failure
    assert_equal "$stderr" "manifest.sh: --split: 'dev' is not train, val or test"
    run --separate-stderr "$MAN" dfd "$BATS_FILE_TMPDIR/dfd" --method FS
    assert_failure
    assert_equal "$stderr" "manifest.sh: --method applies to ff++ only"
}

@test "manifest.sh: a missing root or layout directory is named" {
    run --separate-stderr "$MAN" ff++ nowhere
    assert_failure
    assert_equal "$stderr" "manifest.sh: nowhere: no such directory"
    assert_equal "$output" ""
    mkdir -p empty
    run --separate-stderr "$MAN" ff++ empty
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/empty/original_sequences/youtube/c23/videos: missing directory (see --help for the ff++ layout)"
    run --separate-stderr "$MAN" dfd "$BATS_FILE_TMPDIR/ff"
    assert_failure
    assert_equal "$stderr" "manifest.sh: $BATS_FILE_TMPDIR/ff/original_sequences/actors/c23/videos: missing directory (see --help for the dfd layout)"
    run --separate-stderr "$MAN" celeb-v2 "$BATS_FILE_TMPDIR/ff"
    assert_failure
    assert_equal "$stderr" "manifest.sh: $BATS_FILE_TMPDIR/ff/List_of_testing_videos.txt: missing test list"
    cp -r "$BATS_FILE_TMPDIR/ff" ff
    rm -r ff/manipulated_sequences/NeuralTextures
    run --separate-stderr "$MAN" ff++ ff
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/ff/manipulated_sequences/NeuralTextures/c23/videos: missing directory (see --help for the ff++ layout)"
    # without NT, the other methods still work
    run "$MAN" ff++ ff --method FS
    assert_success
}

@test "ff++: official pairs give a and b real, a_b and b_a fake, per method" {
    cd "$BATS_FILE_TMPDIR"
    run --separate-stderr "$MAN" ff++ ff --split train --method FS --relative
    assert_success
    assert_equal "${lines[0]}" "path${TAB}label${TAB}video${TAB}dataset"
    assert_equal "${lines[1]}" "original_sequences/youtube/c23/videos/000.mp4${TAB}real${TAB}fs/000${TAB}FS"
    assert_equal "${lines[5]}" "manipulated_sequences/FaceSwap/c23/videos/000_001.mp4${TAB}fake${TAB}fs/000_001${TAB}FS"
    assert_equal "$(echo "$output" | col 3)" "fs/000 fs/001 fs/002 fs/003 fs/000_001 fs/001_000 fs/002_003 fs/003_002 "
    assert_equal "$(echo "$output" | col 2)" "real real real real fake fake fake fake "
    # all four methods, each with its own video ids and the same real videos
    run "$MAN" ff++ ff --split test
    assert_success
    assert_equal "${#lines[@]}" 17
    assert_equal "$(echo "$output" | col 3)" "f2f/006 f2f/007 f2f/006_007 f2f/007_006 fs/006 fs/007 fs/006_007 fs/007_006 nt/006 nt/007 nt/006_007 nt/007_006 df/006 df/007 df/006_007 df/007_006 "
    assert_equal "$(echo "$output" | col 4)" "F2F F2F F2F F2F FS FS FS FS NT NT NT NT DF DF DF DF "
    # absolute paths by default, and they exist
    assert_equal "$(echo "$output" | sed -n 2p | cut -f1)" "$BATS_FILE_TMPDIR/ff/original_sequences/youtube/c23/videos/006.mp4"
    assert_equal "$(echo "$output" | sed -n 16p | cut -f1)" "$BATS_FILE_TMPDIR/ff/manipulated_sequences/Deepfakes/c23/videos/006_007.mp4"
    # splits are disjoint and cover everything: 16 + 8 + 8 real/fake per method
    local n=0 s
    for s in train val test; do n=$((n + $("$MAN" ff++ ff --split $s | tail -n +2 | wc -l))); done
    assert_equal "$n" 64
    assert_equal "$("$MAN" ff++ ff | tail -n +2 | wc -l)" 64
    assert_equal "$("$MAN" ff++ ff --split val --method DF | col 3)" "df/004 df/005 df/004_005 df/005_004 "
}

@test "ff++: a video named in a split file but missing on disk is an error" {
    cp -r "$BATS_FILE_TMPDIR/ff" ff
    rm ff/manipulated_sequences/Face2Face/c23/videos/005_004.mp4
    run --separate-stderr "$MAN" ff++ ff --split val
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/ff/manipulated_sequences/Face2Face/c23/videos/005_004.mp4: listed but missing (1 videos missing in all)"
    assert_equal "$output" ""
    rm ff/splits/val.json
    run --separate-stderr "$MAN" ff++ ff --split train
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/ff/splits/val.json: missing split file"
    printf '[["000", "001"], ["003"]]' > ff/splits/val.json
    run --separate-stderr "$MAN" ff++ ff
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/ff/splits/val.json: an odd number of ids (expected pairs)"
}

@test "ff++ without split files: pairs from the fake names, sorted, n-2k / k / k" {
    cp -r "$BATS_FILE_TMPDIR/ff" ff
    rm -r ff/splits
    # 4 pairs: k = round(0.56) = 1 -> train 000-001 and 002-003, val 004-005, test 006-007
    assert_equal "$("$MAN" ff++ ff --split train --method NT | col 3)" "nt/000 nt/001 nt/002 nt/003 nt/000_001 nt/001_000 nt/002_003 nt/003_002 "
    assert_equal "$("$MAN" ff++ ff --split val --method NT | col 3)" "nt/004 nt/005 nt/004_005 nt/005_004 "
    assert_equal "$("$MAN" ff++ ff --split test --method NT | col 3)" "nt/006 nt/007 nt/006_007 nt/007_006 "
    # an id in two pairs cannot be split by pairs
    cp ff/manipulated_sequences/FaceSwap/c23/videos/000_001.mp4 ff/manipulated_sequences/FaceSwap/c23/videos/000_002.mp4
    run --separate-stderr "$MAN" ff++ ff --split test
    assert_failure
    assert_equal "${stderr_lines[1]}" "manifest.sh: cannot derive a split: id 000 is in pairs with 001 and 002 (give splits/)"
}

@test "ff++ without split files: a derived split is announced on stderr; every video needs none" {
    cp -r "$BATS_FILE_TMPDIR/ff" ff
    rm -r ff/splits
    run --separate-stderr "$MAN" ff++ ff --split val --method NT
    assert_success
    assert_equal "$stderr" "manifest.sh: WARNING: $TMP/ff/splits/{train,val,test}.json missing (FaceForensics++'s download script does not fetch them): the split is derived from the fake names, not the official one (see --help)"
    run --separate-stderr "$MAN" fs-i ff
    assert_success
    [[ "$stderr" == "manifest.sh: WARNING: "*"splits"* ]]
    run --separate-stderr "$MAN" ff++ ff --method NT
    assert_success
    assert_equal "$stderr" ""
    run --separate-stderr "$MAN" ff++ "$BATS_FILE_TMPDIR/ff" --split val
    assert_equal "$stderr" ""
}

@test "symlinked video folders are followed (dfd, celeb-v2, ff++)" {
    # each video folder moved to another "disk" and linked back, as datasets spread over disks are
    local d
    for d in dfd cdf ff; do cp -r "$BATS_FILE_TMPDIR/$d" "$d"; cp -r "$BATS_FILE_TMPDIR/$d" "$d.ref"; done
    mkdir disk2
    mv dfd/original_sequences/actors/c23/videos disk2/actors
    ln -s "$TMP/disk2/actors" dfd/original_sequences/actors/c23/videos
    mv cdf/Celeb-real disk2/Celeb-real
    ln -s ../disk2/Celeb-real cdf/Celeb-real
    mv ff/manipulated_sequences/FaceSwap/c23/videos disk2/fs
    ln -s "$TMP/disk2/fs" ff/manipulated_sequences/FaceSwap/c23/videos
    assert_equal "$("$MAN" dfd dfd --relative)" "$("$MAN" dfd dfd.ref --relative)"
    assert_equal "$("$MAN" celeb-v2 cdf --split test --relative)" "$("$MAN" celeb-v2 cdf.ref --split test --relative)"
    assert_equal "$("$MAN" celeb-v2 cdf --split train --relative)" "$("$MAN" celeb-v2 cdf.ref --split train --relative)"
    assert_equal "$("$MAN" ff++ ff --method FS --relative)" "$("$MAN" ff++ ff.ref --method FS --relative)"
    [ "$("$MAN" dfd dfd | awk -F'\t' '$2 == "real"' | wc -l)" -eq 4 ]
}

@test "a listing without real or without fake videos is refused, naming the root" {
    cp -r "$BATS_FILE_TMPDIR/dfd" dfd
    rm dfd/original_sequences/actors/c23/videos/*.mp4
    run --separate-stderr "$MAN" dfd dfd
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/dfd: no real videos for dfd (see --help for the layout)"
    assert_equal "$output" ""
    cp -r "$BATS_FILE_TMPDIR/dfd" dfd2
    rm dfd2/manipulated_sequences/DeepFakeDetection/c23/videos/*.mp4
    run --separate-stderr "$MAN" dfd dfd2 --split test
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/dfd2: no fake videos for dfd --split test (see --help for the layout)"
}

@test "fs-i and nt-i: FS and NT videos of F2F's training identities" {
    cd "$BATS_FILE_TMPDIR"
    run --separate-stderr "$MAN" fs-i ff --relative
    assert_success
    assert_equal "$(echo "$output" | col 3)" "fs-i/000 fs-i/001 fs-i/002 fs-i/003 fs-i/000_001 fs-i/001_000 fs-i/002_003 fs-i/003_002 "
    assert_equal "$(echo "$output" | col 4 | tr ' ' '\n' | grep . | sort -u)" "FS-I"
    assert_equal "$(echo "$output" | sed -n 6p | cut -f1,2)" "manipulated_sequences/FaceSwap/c23/videos/000_001.mp4${TAB}fake"
    # the identities are exactly those of F2F's training set
    assert_equal "$("$MAN" fs-i ff | col 3 | sed 's#fs-i/##g')" "$("$MAN" ff++ ff --split train --method F2F | col 3 | sed 's#f2f/##g')"
    run "$MAN" nt-i ff --relative
    assert_success
    assert_equal "$(echo "$output" | sed -n 9p)" "manipulated_sequences/NeuralTextures/c23/videos/003_002.mp4${TAB}fake${TAB}nt-i/003_002${TAB}NT-I"
    assert_equal "$("$MAN" nt-i ff --split test | col 3)" "nt-i/006 nt-i/007 nt-i/006_007 nt-i/007_006 "
}

@test "celeb-v2: the test list's 1 means real; train and val share no person" {
    cd "$BATS_FILE_TMPDIR"
    run --separate-stderr "$MAN" celeb-v2 cdf --split test --relative
    assert_success
    assert_equal "$stderr" ""
    assert_equal "${lines[1]}" "YouTube-real/00170.mp4${TAB}real${TAB}celeb/00170${TAB}CELEB"
    assert_equal "${lines[2]}" "Celeb-real/id1_0000.mp4${TAB}real${TAB}celeb/id1_0000${TAB}CELEB"
    assert_equal "${lines[3]}" "Celeb-synthesis/videos/id1_id2_0000.mp4${TAB}fake${TAB}celeb/id1_id2_0000${TAB}CELEB"
    assert_equal "${#lines[@]}" 4
    run --separate-stderr "$MAN" celeb-v2 cdf --split train
    assert_success
    assert_equal "$(echo "$output" | col 3)" "celeb/00000 celeb/id0_0000 celeb/id0_0001 celeb/id0_id1_0000 celeb/id1_id0_0001 "
    assert_equal "$(echo "$output" | col 2)" "real real real fake fake "
    # id0_id4_0000 has a train person (0) and a val person (4): left out of both
    assert_equal "$stderr" "manifest.sh: left out 1 fakes whose two persons fall in train and val"
    run --separate-stderr "$MAN" celeb-v2 cdf --split val
    assert_success
    assert_equal "$(echo "$output" | col 3)" "celeb/00004 celeb/id4_0000 celeb/id4_id9_0000 "
    # celeb-v1: the same layout, as CELEB-M
    run --separate-stderr "$MAN" celeb-v1 cdf --split test
    assert_success
    assert_equal "$(echo "$output" | col 3)" "celeb-m/00170 celeb-m/id1_0000 celeb-m/id1_id2_0000 "
    assert_equal "$(echo "$output" | col 4)" "CELEB-M CELEB-M CELEB-M "
}

@test "celeb-v2: a list whose labels contradict the folders (0 = real read backwards) is refused" {
    cp -r "$BATS_FILE_TMPDIR/cdf" cdf
    printf '0 YouTube-real/00170.mp4\n1 Celeb-synthesis/id1_id2_0000.mp4\n' > cdf/List_of_testing_videos.txt
    run --separate-stderr "$MAN" celeb-v2 cdf --split test
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/cdf/List_of_testing_videos.txt: line 1: label 0 (fake) contradicts folder YouTube-real (1 means real)"
    printf '1 YouTube-real/09999.mp4\n' > cdf/List_of_testing_videos.txt
    run --separate-stderr "$MAN" celeb-v2 cdf --split test
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/cdf/List_of_testing_videos.txt names YouTube-real/09999.mp4, which is missing"
    printf '1 YouTube-real/00170.mp4 extra\n' > cdf/List_of_testing_videos.txt
    run --separate-stderr "$MAN" celeb-v2 cdf
    assert_failure
    assert_equal "$stderr" "manifest.sh: $TMP/cdf/List_of_testing_videos.txt: line 1: expected \"<0|1> <folder>/<file>.mp4\""
}

@test "dfd: every video without --split, split by actor with it" {
    cd "$BATS_FILE_TMPDIR"
    run --separate-stderr "$MAN" dfd dfd --relative
    assert_success
    assert_equal "${#lines[@]}" 9
    assert_equal "${lines[1]}" "original_sequences/actors/c23/videos/01__kitchen.mp4${TAB}real${TAB}dfd/01__kitchen${TAB}DFD"
    assert_equal "${lines[8]}" "manipulated_sequences/DeepFakeDetection/c23/videos/08_04__talk__Z.mp4${TAB}fake${TAB}dfd/08_04__talk__Z${TAB}DFD"
    run --separate-stderr "$MAN" dfd dfd --split train
    assert_equal "$(echo "$output" | col 3)" "dfd/01__kitchen dfd/01_02__kitchen__ABCD1234 "
    assert_equal "$stderr" "manifest.sh: left out 1 fakes whose two actors fall in different splits"
    assert_equal "$("$MAN" dfd dfd --split val 2>/dev/null | col 3)" "dfd/03__walk dfd/08__talk dfd/03_08__walk__XYZ "
    assert_equal "$("$MAN" dfd dfd --split test 2>/dev/null | col 3)" "dfd/04__hug dfd/04_09__hug__Q1 "
}

@test "extract-set: a manifest becomes labelled face crops keyed <video>/fNN" {
    "$MAN" ff++ "$BATS_FILE_TMPDIR/ff" --split test --method FS > fs.tsv
    run --separate-stderr "$EXT" fs.tsv out.dft -n 2 --size 64 --min-face 20 -j 2
    assert_success
    run pack --list out.dft
    assert_output "$(printf '%s\n' "0${TAB}fs/006/f00${TAB}real${TAB}u8${TAB}64x64x3" "1${TAB}fs/006/f01${TAB}real${TAB}u8${TAB}64x64x3" \
        "2${TAB}fs/007/f00${TAB}real${TAB}u8${TAB}64x64x3" "3${TAB}fs/007/f01${TAB}real${TAB}u8${TAB}64x64x3" \
        "4${TAB}fs/006_007/f00${TAB}fake${TAB}u8${TAB}64x64x3" "5${TAB}fs/006_007/f01${TAB}fake${TAB}u8${TAB}64x64x3" \
        "6${TAB}fs/007_006/f00${TAB}fake${TAB}u8${TAB}64x64x3" "7${TAB}fs/007_006/f01${TAB}fake${TAB}u8${TAB}64x64x3")"
    pack --unpack u out.dft
    assert_equal "$(cut -f4 u/manifest.tsv | sort | uniq -c | tr -s ' ')" "$(printf ' 8 FS\n 1 dataset')"
    # crop's metadata is there (every record was a detected face)
    run grep -a -c '^box=' out.dft
    assert_output 8
    # the same as running the tools by hand
    frame-extract -n 2 --dataset fs $(tail -n +2 fs.tsv | cut -f1) | crop --size 64 --min-face 20 | pack --relabel fs.tsv -o byhand.dft
    cmp out.dft byhand.dft
    assert_no_temporaries
}

@test "extract-set: --detector reaches crop" {
    "$MAN" ff++ "$BATS_FILE_TMPDIR/ff" --split test --method FS > fs.tsv
    run --separate-stderr "$EXT" fs.tsv hog.dft -n 2 --size 64 --detector hog
    assert_success
    # the same as by hand; crop's account of the frames without a face reaches stderr
    frame-extract -n 2 --dataset fs $(tail -n +2 fs.tsv | cut -f1) | crop --size 64 --detector hog 2> crop.err |
        pack --relabel fs.tsv -o byhand.dft
    cmp hog.dft byhand.dft
    assert_equal "$(tail -1 crop.err)" "crop: 8 frames: 6 cropped, 2 without a face"
    [[ "$stderr" == *"crop: 8 frames: 6 cropped, 2 without a face"* ]]
    run --separate-stderr "$EXT" fs.tsv bad.dft -n 2 --detector bogus
    assert_failure
    [[ "$stderr" == *"crop: --detector: 'bogus': want hog or haar"* ]]
    assert_no_files bad.dft
    assert_no_temporaries
}

@test "extract-set: --no-crop, relative paths, and errors leave no output" {
    "$MAN" dfd "$BATS_FILE_TMPDIR/dfd" --split test --relative 2>/dev/null > dfd.tsv
    run --separate-stderr "$EXT" dfd.tsv out.dft --root "$BATS_FILE_TMPDIR/dfd" -n 3 --size 32 --no-crop
    assert_success
    run pack --list out.dft
    assert_equal "$(echo "$output" | cut -f2,3,5 | tr '\n' ' ')" "dfd/04__hug/f00${TAB}real${TAB}32x32x3 dfd/04__hug/f01${TAB}real${TAB}32x32x3 dfd/04__hug/f02${TAB}real${TAB}32x32x3 dfd/04_09__hug__Q1/f00${TAB}fake${TAB}32x32x3 dfd/04_09__hug__Q1/f01${TAB}fake${TAB}32x32x3 dfd/04_09__hug__Q1/f02${TAB}fake${TAB}32x32x3 "
    # relative paths without --root resolve against the manifest's directory: not here
    run --separate-stderr "$EXT" dfd.tsv out2.dft --no-crop
    assert_failure
    assert_equal "$stderr" "extract-set.sh: ./original_sequences/actors/c23/videos/04__hug.mp4: no such file (relative paths resolve against --root, default the manifest's directory)"
    assert_no_files out2.dft
    # a video id that does not end in the file name cannot get its frames' keys
    printf 'path\tlabel\tvideo\tdataset\n/x/006.mp4\treal\tfs/007\tFS\n' > bad.tsv
    run --separate-stderr "$EXT" bad.tsv out3.dft
    assert_failure
    assert_equal "$stderr" "extract-set.sh: bad.tsv: line 2: video id 'fs/007' does not end in the file name 006"
    run --separate-stderr "$EXT" bad.tsv out3.dft --bogus
    assert_failure
    assert_equal "$stderr" "extract-set.sh: unknown option '--bogus' (see --help)"
    run "$EXT" --help
    assert_success
    assert_output --partial "usage: pipelines/extract-set.sh MANIFEST OUT.dft"
    assert_no_files out3.dft
    assert_no_temporaries
}

@test "extract-set: an undecodable video is skipped, the rest written, exit 2" {
    mkdir -p d/real d/fake
    cp "$BATS_FILE_TMPDIR/v/real/000.mp4" d/real/000.mp4
    echo junk > d/fake/000_003.mp4
    printf 'path\tlabel\tvideo\tdataset\nreal/000.mp4\treal\tf2f/000\tF2F\nfake/000_003.mp4\tfake\tf2f/000_003\tF2F\n' > d/m.tsv
    run --separate-stderr "$EXT" d/m.tsv out.dft -n 2 --size 32 --no-crop
    assert_equal "$status" 2
    assert_equal "$(pack --list out.dft | cut -f2 | tr '\n' ' ')" "f2f/000/f00 f2f/000/f01 "
    # nothing decodable: an error, no output
    cp d/fake/000_003.mp4 d/real/000.mp4
    run --separate-stderr "$EXT" d/m.tsv out2.dft -n 2 --size 32 --no-crop
    assert_failure
    assert_equal "${stderr##*$'\n'}" "extract-set.sh: d/m.tsv: no frames came out (no video decoded, or no face found)"
    assert_no_files out2.dft
    assert_no_temporaries
}
