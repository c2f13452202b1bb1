#!/usr/bin/env bats
# pack --relabel: labels and dataset= of stream records from a video manifest.
load helper

# s.dft: synth fs, 2 pairs of 2 frames (videos fs/000, fs/000_003, fs/003, fs/003_000)
make_stream() { synth --role fs --videos 4 --frames 2 --size 32 > s.dft; }

@test "relabel sets labels and dataset= by video; the rest of each record is unchanged" {
    make_stream
    printf 'path\tlabel\tvideo\tdataset\nx.mp4\tfake\tfs/000\tFS\na.mp4\treal\tfs/000_003\t\nb.mp4\t1\tfs/003\tFS\nc.mp4\t0\tfs/003_000\tFS\n' > m.tsv
    run pack --relabel m.tsv s.dft -o o.dft
    assert_success
    run pack --list o.dft
    assert_output "$(printf '0\tfs/000/f00\tfake\tu8\t32x32x3\n1\tfs/000/f01\tfake\tu8\t32x32x3\n2\tfs/000_003/f00\treal\tu8\t32x32x3\n3\tfs/000_003/f01\treal\tu8\t32x32x3\n4\tfs/003/f00\tfake\tu8\t32x32x3\n5\tfs/003/f01\tfake\tu8\t32x32x3\n6\tfs/003_000/f00\treal\tu8\t32x32x3\n7\tfs/003_000/f01\treal\tu8\t32x32x3')"
    pack --unpack u o.dft
    # an empty dataset field keeps the record's own dataset=
    run cut -f3,4 u/manifest.tsv
    assert_output "$(printf 'key\tdataset\nfs/000/f00\tFS\nfs/000/f01\tFS\nfs/000_003/f00\tfs\nfs/000_003/f01\tfs\nfs/003/f00\tFS\nfs/003/f01\tFS\nfs/003_000/f00\tFS\nfs/003_000/f01\tFS')"
    # relabelling back to the original labels gives the original pixels and labels
    printf 'video\tlabel\nfs/000\treal\nfs/000_003\tfake\nfs/003\treal\nfs/003_000\tfake\n' > back.tsv
    pack --relabel back.tsv s.dft -o same.dft
    cmp s.dft same.dft
}

@test "relabel works with sampling: --balance sees the new labels" {
    make_stream
    printf 'video\tlabel\nfs/000\treal\nfs/000_003\treal\nfs/003\treal\nfs/003_000\tfake\n' > m.tsv
    run pack --relabel m.tsv --balance s.dft -o o.dft
    assert_success
    run pack --list o.dft
    assert_equal "$(echo "$output" | cut -f3 | sort | uniq -c | tr -s ' ')" "$(printf ' 2 fake\n 2 real')"
}

@test "relabel refuses a record whose video is not listed, and writes nothing" {
    make_stream
    printf 'video\tlabel\nfs/000\treal\n' > m.tsv
    run --separate-stderr pack --relabel m.tsv s.dft -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: s.dft: record 2: video 'fs/000_003' is not in m.tsv"
    assert_no_files o.dft
    assert_no_temporaries
}

@test "relabel refuses a record whose key names no video (no '/')" {
    pack --label real --root "$BATS_TEST_DIRNAME/fixtures/png" "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" -o flat.dft
    printf 'video\tlabel\nrgb8\tfake\n' > m.tsv
    run --separate-stderr pack --relabel m.tsv flat.dft -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: flat.dft: record 0: key 'rgb8' has no video part (expected VIDEO/FRAME, e.g. fs/000_003/f05)"
    assert_no_files o.dft
}

@test "relabel refuses bad manifests with the line" {
    make_stream
    printf 'path\tlabel\nx\treal\n' > nohead.tsv
    run --separate-stderr pack --relabel nohead.tsv s.dft -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: nohead.tsv: line 1: the first line must be a header naming the columns 'video' and 'label'"
    printf 'video\tlabel\nfs/000\treal\nfs/000\tfake\n' > dup.tsv
    run --separate-stderr pack --relabel dup.tsv s.dft -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: dup.tsv: line 3: video 'fs/000' is listed twice"
    printf 'video\tlabel\nfs/000\tmaybe\n' > bad.tsv
    run --separate-stderr pack --relabel bad.tsv s.dft -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: bad.tsv: line 2: label 'maybe' is not real, fake, unknown, 0, 1 or -1"
    printf 'video\tlabel\tdataset\nfs/000\treal\n' > short.tsv
    run --separate-stderr pack --relabel short.tsv s.dft -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: short.tsv: line 2: expected 3 (as in the header) tab-separated fields, got 2"
    run --separate-stderr pack --relabel missing.tsv s.dft -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: missing.tsv: No such file or directory"
    assert_no_files o.dft
}

@test "relabel is for stream input only" {
    printf 'video\tlabel\nx\treal\n' > m.tsv
    cp "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" a.png
    run --separate-stderr pack --relabel m.tsv --label real a.png -o o.dft
    assert_failure
    assert_equal "$stderr" "pack: --relabel applies to stream input only (a PNG manifest carries its own labels)"
    run --separate-stderr pack --list --relabel m.tsv
    assert_failure
}
