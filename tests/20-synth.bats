#!/usr/bin/env bats
# synth: the synthetic face-forgery benchmark (formats/synth.md). Tiny sizes keep it fast.

load helper

# labels of the records of a stream, one per line (walks the 128-byte headers with od)
stream_labels() {
    local f=$1 pos=0 size mlen plo phi label
    size=$(stat -c %s "$f")
    while [ "$pos" -lt "$size" ]; do
        [ "$(head -c $((pos + 4)) "$f" | tail -c 3)" = "TNS" ] || { echo "bad magic at $pos"; return 1; }
        read -r mlen plo phi label < <(od -An -t u4 -j $((pos + 12)) -N 16 "$f")
        echo "$label"
        pos=$((pos + 128 + (mlen + 7) / 8 * 8 + (plo + 7) / 8 * 8))
    done
    [ "$pos" -eq "$size" ] || { echo "stream ends mid-record"; return 1; }
}

# distinct values of a metadata field in a stream
meta_values() { grep -a -o "$2=[^[:space:]]*" "$1" | cut -d= -f2 | sort -u; }

@test "synth --help prints usage and exits 0" {
    run synth --help
    assert_success
    assert_output --partial "usage: synth --role ROLE"
    assert_output --partial "fs-i"
}

@test "same seed gives the same bytes, on any thread count; another seed does not" {
    synth --role f2f --videos 4 --frames 3 --size 32 --seed 5 --threads 1 > a.dft
    synth --role f2f --videos 4 --frames 3 --size 32 --seed 5 --threads 2 > b.dft
    synth --role f2f --videos 4 --frames 3 --size 32 --seed 6 > c.dft
    cmp a.dft b.dft
    ! cmp -s a.dft c.dft
}

@test "a stream holds videos x frames records, half real and half fake, with role/video/fNN keys" {
    synth --role celeb --split val --videos 6 --frames 4 --size 32 > s.dft
    run stream_labels s.dft
    assert_success
    [ "${#lines[@]}" -eq 24 ]
    [ "$(grep -c '^0$' <<< "$output")" -eq 12 ]
    [ "$(grep -c '^1$' <<< "$output")" -eq 12 ]
    [ "$(grep -a -o 'key=celeb/[a-z0-9_]*/f0[0-3]' s.dft | wc -l)" -eq 24 ]
    [ "$(meta_values s.dft dataset)" = celeb ]
    [ "$(meta_values s.dft split)" = val ]
    [ "$(meta_values s.dft video | wc -l)" -eq 6 ]
    [ "$(grep -a -c 'method=real' s.dft)" -ge 1 ]
}

@test "splits never share identities; pools are disjoint; fs-i/test forges f2f/train identities" {
    for split in train val test; do
        for role in fs celeb dfd celeb-m; do
            synth --role $role --split $split --videos 12 --frames 1 --size 32 > $role-$split.dft
            { meta_values $role-$split.dft identity; meta_values $role-$split.dft donor; } | sort -u > $role-$split.ids
        done
    done
    for role in fs celeb dfd celeb-m; do
        [ -z "$(comm -12 $role-train.ids $role-val.ids)" ]
        [ -z "$(comm -12 $role-train.ids $role-test.ids)" ]
        [ -z "$(comm -12 $role-val.ids $role-test.ids)" ]
    done
    cat fs-*.ids | cut -d: -f1 | sort -u | grep -qx ffpp
    [ -z "$(cat fs-*.ids celeb-*.ids | sort | uniq -d)" ]
    [ -z "$(cat celeb-m-*.ids dfd-*.ids | sort | uniq -d)" ]
    synth --role f2f --split train --videos 36 --frames 1 --size 32 > f2f.dft
    synth --role fs-i --split test --videos 12 --frames 1 --size 32 > fsi.dft
    { meta_values f2f.dft identity; meta_values f2f.dft donor; } | sort -u > f2f.ids
    { meta_values fsi.dft identity; meta_values fsi.dft donor; } | sort -u > fsi.ids
    [ -z "$(comm -23 fsi.ids f2f.ids)" ]
    [ -z "$(comm -12 fsi.ids fs-test.ids)" ]
}

@test "--png writes PNG files and a manifest with path, label, key" {
    synth --role nt --split test --videos 4 --frames 2 --size 40 --png out
    assert_no_temporaries out
    [ "$(head -1 out/manifest.tsv)" = "$(printf 'path\tlabel\tkey')" ]
    [ "$(tail -n +2 out/manifest.tsv | wc -l)" -eq 8 ]
    [ "$(tail -n +2 out/manifest.tsv | awk -F'\t' '$2 == 1' | wc -l)" -eq 4 ]
    tail -n +2 out/manifest.tsv | while IFS=$'\t' read -r path label key; do
        [ -f "out/$path" ]
        [ "$(head -c 8 "out/$path" | od -An -t x1 | tr -d ' ')" = 89504e470d0a1a0a ]
        # IHDR width and height
        [ "$(od -An -t u1 -j 16 -N 8 "out/$path" | tr -s ' ')" = " 0 0 0 40 0 0 0 40" ]
        case "$path" in real/*) [ "$label" = 0 ] ;; fake/*) [ "$label" = 1 ] ;; *) false ;; esac
        [[ $key == nt/*/f0[01] ]]
    done
}

@test "--video writes H.264 MP4 files and a label list" {
    synth --role fs --videos 2 --frames 3 --size 48 --video vid
    assert_no_temporaries vid
    [ "$(head -1 vid/labels.tsv)" = "$(printf 'path\tlabel\tvideo')" ]
    [ "$(tail -n +2 vid/labels.tsv | wc -l)" -eq 2 ]
    tail -n +2 vid/labels.tsv | while IFS=$'\t' read -r path label video; do
        [ -s "vid/$path" ]
        [ "$(head -c 8 "vid/$path" | tail -c 4)" = ftyp ]
        grep -q avc1 "vid/$path"
    done
    synth --role fs --videos 2 --frames 3 --size 48 --video vid2
    cmp vid/real/000.mp4 vid2/real/000.mp4
}

@test "--sheet draws a contact sheet PNG" {
    synth --sheet sheet.png --size 32 --videos 2
    [ "$(head -c 8 sheet.png | od -An -t x1 | tr -d ' ')" = 89504e470d0a1a0a ]
    assert_no_temporaries .
}

@test "bad arguments give one-line errors and no output" {
    run --separate-stderr synth --role deepfake --videos 2
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ $stderr == "synth: --role: unknown role 'deepfake'"* ]]
    [ -z "$output" ]

    run --separate-stderr synth --role fs --videos 0 --png out
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ $stderr == "synth: --videos"* ]]
    assert_no_files out

    run --separate-stderr synth --role fs --videos 3
    assert_failure
    [[ $stderr == *"even"* ]]

    run --separate-stderr synth --role fs --size 16 --png out
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ $stderr == "synth: --size"* ]]
    assert_no_files out

    run --separate-stderr synth --role fs --videos 2 --size 33 --video v
    assert_failure
    [[ $stderr == *"even"* ]]
    assert_no_files v

    run --separate-stderr synth --role fs --bogus
    assert_failure
    [[ $stderr == "synth: unknown option '--bogus'"* ]]

    run --separate-stderr synth --videos 2
    assert_failure
    [[ $stderr == "synth: --role is required"* ]]

    run --separate-stderr synth --role fs --split dev
    assert_failure
    [[ $stderr == "synth: --split: unknown split 'dev'"* ]]

    run --separate-stderr synth --role fs --seed -1
    assert_failure

    touch afile
    run --separate-stderr synth --role fs --videos 2 --frames 1 --size 32 --png afile
    assert_failure
    [[ $stderr == *"not a directory"* ]]

    run --separate-stderr synth --role fs --videos
    assert_failure
    [[ $stderr == *"missing value"* ]]
}
