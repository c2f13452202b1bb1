#!/usr/bin/env bats
# The study's set construction checks: pipelines/leak-check.sh (no test image is a training
# image: the same frame of the same video file, whatever its key), sample-manifest.sh's
# exclusions (--exclude-source, --exclude-identity), --real-frames and --stats, and the pack
# options they lean on (--list --meta, --drop-keys).
load helper

LEAK="$ROOT/pipelines/leak-check.sh"
SAMPLE="$ROOT/pipelines/sample-manifest.sh"

# a synth real video of 4 frames, reached under two names (a symbolic link)
setup_file() {
    cd "$BATS_FILE_TMPDIR" || return 1
    synth --role f2f --video v --videos 2 --frames 4 --size 64 >/dev/null
    mkdir -p a b
    cp v/real/000.mp4 a/000.mp4
    ln -s ../a/000.mp4 b/000.mp4
}

@test "leak-check.sh: the same frame of one file under two ids and paths is a leak; other frames are not" {
    local F="$BATS_FILE_TMPDIR"
    mkdir m
    printf 'path\tlabel\tvideo\tdataset\n%s/a/000.mp4\treal\tf2f/000\tF2F\n' "$F" > m/train-F2F.tsv
    printf 'path\tlabel\tvideo\tdataset\n%s/b/000.mp4\treal\tfs-i/000\tFS-I\n' "$F" > m/test-FS-I.tsv
    # training: frames 0 and 3 (2 evenly spaced of 4); test: all four, ranks f00..f03
    frame-extract -n 2 --dataset f2f "$F/a/000.mp4" -o train.dft
    frame-extract -n 4 --dataset fs-i "$F/b/000.mp4" -o test.dft
    run --separate-stderr "$LEAK" --manifests m --train train/F2F=train.dft --test test/FS-I=test.dft -o sets.tsv
    [ "$status" -eq 1 ]
    assert_equal "$stderr" "leak	test/FS-I	fs-i/000/f00	train/F2F	f2f/000/f00	$F/a/000.mp4	0
leak	test/FS-I	fs-i/000/f03	train/F2F	f2f/000/f01	$F/a/000.mp4	3
leak-check.sh: 2 test images are training or validation images (the same frame of the same video): test/FS-I: 2"
    [ ! -e sets.tsv ]
    run cat sets.tsv.leaks
    assert_output "$(printf 'set\trole\timages\treal\tfake\tvideos\tleaks\ntrain/F2F\ttrain\t2\t0\t0\t1\t0\ntest/FS-I\ttest\t4\t0\t0\t1\t2')"
    # --list-leaks names them; dropped, the set passes and keeps the other two frames
    "$LEAK" --manifests m --train train/F2F=train.dft --test test/FS-I=test.dft --list-leaks drop.txt > /dev/null
    run cat drop.txt
    assert_output "$(printf 'fs-i/000/f00\nfs-i/000/f03')"
    pack --drop-keys drop.txt test.dft -o clean.dft
    run --separate-stderr "$LEAK" --manifests m --train train/F2F=train.dft --test test/FS-I=clean.dft -o sets.tsv
    assert_success
    assert_equal "$(cut -f1,3,7 sets.tsv | tail -n +2 | tr '\t\n' ' ;')" "train/F2F 2 0;test/FS-I 2 0;"
    run pack --list --meta frame clean.dft
    assert_output "$(printf '0\tfs-i/000/f01\tunknown\tu8\t64x64x3\t1\n1\tfs-i/000/f02\tunknown\tu8\t64x64x3\t2')"
    # without manifests the ids differ, so nothing is found (synth's case: ids are sources)
    run "$LEAK" --train train/F2F=train.dft --test test/FS-I=test.dft
    assert_success
    # an empty set is listed with 0 images
    : > empty.dft
    run "$LEAK" --train t=train.dft --test e=empty.dft
    assert_line "$(printf 'e\ttest\t0\t0\t0\t0\t0')"
}

@test "leak-check.sh: bad arguments are one-line errors (exit 2)" {
    run --separate-stderr "$LEAK" --train x=nosuch.dft
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "leak-check.sh: nosuch.dft: no such file"
    run --separate-stderr "$LEAK" --test nosuch.dft
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "leak-check.sh: --test: 'nosuch.dft' is not NAME=SET.dft"
    run --separate-stderr "$LEAK"
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "leak-check.sh: no --train or --test sets given (see --help)"
}

@test "sample-manifest.sh --exclude-source: FF++ reverse pairs and shared Celeb-DF source videos" {
    { printf 'path\tlabel\tvideo\tdataset\n'
      for i in 000 001 002 003; do printf '/o/%s.mp4\treal\tfs/%s\tFS\n' $i $i; done
      for p in 000_001 001_000 002_003 003_002; do printf '/m/%s.mp4\tfake\tfs/%s\tFS\n' $p $p; done; } > fs.tsv
    printf 'path\tlabel\tvideo\tdataset\n/o/000.mp4\treal\tfs-i/000\tFS-I\n/x/001_000.mp4\tfake\tfs-i/001_000\tFS-I\n' > fsi.tsv
    run --separate-stderr "$SAMPLE" fs.tsv --images 8 --frames 2 --exclude-source fsi.tsv --stats st.tsv
    assert_success
    # 000 (the same real video) and 000_001 and 001_000 (the pair of fs-i/001_000) are out
    assert_equal "$(echo "$output" | tail -n +2 | cut -f3 | tr '\n' ' ')" "fs/001 fs/002 fs/003 fs/002_003 fs/003_002 "
    assert_equal "$(tr '\t\n' '= ' < st.tsv)" "listed=8 excluded_path=0 excluded_source=3 excluded_identity=0 real_available=3 real_taken=3 fake_available=2 fake_taken=2 "
    # Celeb-DF v1 against v2: same name, or a fake made from a v2 video's source video
    printf 'path\tlabel\tvideo\tdataset\n/2/id0_0000.mp4\treal\tceleb/id0_0000\tCELEB\n/2/00003.mp4\treal\tceleb/00003\tCELEB\n/2/id0_id1_0000.mp4\tfake\tceleb/id0_id1_0000\tCELEB\n' > v2.tsv
    { printf 'path\tlabel\tvideo\tdataset\n'
      for s in id0_0000 id5_0001 00003 00009; do printf '/1/%s.mp4\treal\tceleb-m/%s\tCELEB-M\n' $s $s; done
      for s in id0_id2_0000 id1_id3_0002 id6_id5_0002; do printf '/1/%s.mp4\tfake\tceleb-m/%s\tCELEB-M\n' $s $s; done; } > v1.tsv
    run --separate-stderr "$SAMPLE" v1.tsv --images 8 --frames 2 --exclude-source v2.tsv --stats st.tsv
    assert_equal "$(echo "$output" | tail -n +2 | cut -f3 | tr '\n' ' ')" "celeb-m/id5_0001 celeb-m/00009 celeb-m/id1_id3_0002 celeb-m/id6_id5_0002 "
    assert_equal "$(head -n 4 st.tsv | cut -f2 | tr '\n' ' ')" "7 0 3 0 "
    # --exclude-identity also drops the persons of v2's videos (id1 is in celeb/id0_id1_0000)
    run --separate-stderr "$SAMPLE" v1.tsv --images 8 --frames 2 --exclude-source v2.tsv --exclude-identity v2.tsv --stats st.tsv
    assert_equal "$(echo "$output" | tail -n +2 | cut -f3 | tr '\n' ' ')" "celeb-m/id5_0001 celeb-m/00009 celeb-m/id6_id5_0002 "
    assert_equal "$(head -n 4 st.tsv | cut -f2 | tr '\n' ' ')" "7 0 3 1 "
    run --separate-stderr "$SAMPLE" v1.tsv --images 8 --frames 2 --exclude-source nosuch.tsv
    assert_failure
    assert_equal "$stderr" "sample-manifest.sh: nosuch.tsv: no such file"
}

@test "sample-manifest.sh --real-frames: fewer real videos for more frames each" {
    local i
    { printf 'path\tlabel\tvideo\n'; for i in 01 02 03 04 05 06 07 08 09 10; do
        printf '/v/r%s.mp4\treal\tr/r%s\n/v/f%s.mp4\tfake\tf/f%s\n' $i $i $i $i; done; } > m.tsv
    # 16 images: k = ceil(1.25 * 16 / (2 * 2)) = 5 fakes; real videos at 5 frames: ceil(20 / 10) = 2
    run --separate-stderr "$SAMPLE" m.tsv --images 16 --frames 2 --real-frames 5 --stats st.tsv
    assert_success
    assert_equal "$(echo "$output" | grep -c '	real	') $(echo "$output" | grep -c '	fake	')" "2 5"
    assert_equal "$(tail -n 4 st.tsv | tr '\t\n' '= ')" "real_available=10 real_taken=2 fake_available=10 fake_taken=5 "
}
