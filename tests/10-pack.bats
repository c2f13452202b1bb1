#!/usr/bin/env bats
# pack: PNG <-> stream, manifests, listing, sampling (take, balance, shuffle, split by video).
load helper

FIX="$BATS_TEST_DIRNAME/fixtures/png"
CONVERSIONS="rgb8 rgb8-interlaced rgb16 gray8 gray16 gray1 gray4 graya8 rgba8 rgba16 palette8 palette4 palette-trns"

# make_videos DIR LABEL NVIDEOS NFRAMES: PNGs DIR/LABEL/vNN/fNN.png (tiny fixture images, varied)
make_videos() {
    local dir=$1 label=$2 nv=$3 nf=$4 v f i=0
    local srcs=(rgb8 gray8 palette8 rgba8 rgb16 gray4)
    for ((v = 0; v < nv; v++)); do
        mkdir -p "$dir/$label/v$(printf %02d $v)"
        for ((f = 0; f < nf; f++)); do
            cp "$FIX/${srcs[i % 6]}.png" "$dir/$label/v$(printf %02d $v)/f$(printf %02d $f).png"
            i=$((i + 1))
        done
    done
}

# set.dft: NR real videos and NF fake videos of FR frames each (keys real/vNN/fNN, fake/vNN/fNN)
make_set() {
    local nr=$1 nf=$2 fr=$3
    make_videos src real "$nr" "$fr"
    make_videos src fake "$nf" "$fr"
    pack --label real --dataset demo --root src src/real/*/*.png -o r.dft
    pack --label fake --dataset demo --root src src/fake/*/*.png -o f.dft
    cat r.dft f.dft > set.dft
}

keys() { pack --list "$@" | cut -f2; }

@test "pack --help exits 0 and documents the rules" {
    run pack --help
    assert_success
    assert_output --partial "usage: pack"
    assert_output --partial "--split F"
    assert_output --partial "fs/000_003/f05 -> fs/000_003"
    assert_output --partial "Memory:"
}

@test "pack rejects an unknown flag with one line and a non-zero exit" {
    run --separate-stderr pack --frobnicate
    assert_failure
    [ "$stderr" = "pack: unknown option '--frobnicate' (see pack --help)" ]
    [ -z "$output" ]
}

@test "every PNG colour type and bit depth becomes the expected 8-bit RGB record" {
    for n in $CONVERSIONS; do
        pack --label real --dataset fixture --root "$FIX" "$FIX/$n.png" -o "$n.dft"
        cmp "$n.dft" "$FIX/$n.dft" || fail "conversion of $n.png differs from its fixture"
    done
    # all at once, in one stream, is the concatenation
    files=() expect=()
    for n in $CONVERSIONS; do files+=("$FIX/$n.png"); expect+=("$FIX/$n.dft"); done
    pack --label real --dataset fixture --root "$FIX" "${files[@]}" > all.dft
    cat "${expect[@]}" | cmp - all.dft
}

@test "--size shrinks by area averaging and enlarges to NxN" {
    pack --label real --dataset fixture --root "$FIX" --size 2 "$FIX/blocks.png" -o small.dft
    cmp small.dft "$FIX/blocks-size2.dft"
    pack --label real --root "$FIX" --size 9 "$FIX/rgb8.png" -o big.dft
    run pack --list big.dft
    assert_output "$(printf '0\trgb8\treal\tu8\t9x9x3')"
    # streams are resized too, keeping key, label and dataset
    run --separate-stderr pack --size 2 < "$FIX/blocks.png"
    assert_failure
    [[ $stderr == "pack: <stdin>: record 0: "* ]]
    pack --label real --dataset fixture --root "$FIX" "$FIX/blocks.png" | pack --size 2 | cmp - "$FIX/blocks-size2.dft"
}

@test "--list prints index, key (or name=, or -), label, dtype and shape" {
    run --separate-stderr pack --list "$FIX/checkpoint.dft"
    assert_success
    assert_output "$(printf '0\tname=arch\tunknown\tu8\t10\n1\tname=conv1.weight\tunknown\tf32\t4x3x3x3\n2\t-\tunknown\tf32\t1\n3\tx/y/z\tfake\ti32\t2x3')"
    # stdin, and indexes continue across inputs
    run pack --list < "$FIX/rgb8.dft"
    assert_output "$(printf '0\trgb8\treal\tu8\t3x5x3')"
    run pack --list "$FIX/gray8.dft" "$FIX/rgb8.dft"
    assert_output "$(printf '0\tgray8\treal\tu8\t3x5x3\n1\trgb8\treal\tu8\t3x5x3')"
}

@test "--list streams: records before a broken one are listed, then the error" {
    cat "$FIX/gray8.dft" "$FIX/rgb8.dft" > two.dft
    head -c $(( $(stat -c %s two.dft) - 8 )) two.dft > cut.dft
    run --separate-stderr pack --list cut.dft
    assert_failure
    assert_output "$(printf '0\tgray8\treal\tu8\t3x5x3')"
    [ "$stderr" = "pack: cut.dft: record 1: truncated payload" ]
}

@test "PNG keys: path relative to --root, extension dropped, --key-prefix prepended" {
    mkdir -p data/000_003
    cp "$FIX/rgb8.png" data/000_003/f05.png
    pack --label fake --root data --key-prefix fs data/000_003/f05.png -o a.dft
    [ "$(keys a.dft)" = "fs/000_003/f05" ]
    pack --label fake ./data/./000_003/f05.png -o b.dft
    [ "$(keys b.dft)" = "data/000_003/f05" ]
    run --separate-stderr pack --label fake "$PWD/data/000_003/f05.png" -o c.dft
    assert_failure
    [[ $stderr == "pack: $PWD/data/000_003/f05.png: cannot derive a key from an absolute path"* ]]
    run --separate-stderr pack --label fake --root elsewhere data/000_003/f05.png -o c.dft
    assert_failure
    [[ $stderr == *"not under --root elsewhere"* ]]
    run --separate-stderr pack --label real data/000_003/f05.png data/000_003/f05.png -o c.dft
    assert_failure
    [[ $stderr == *"key 'data/000_003/f05' is also the key of"* ]]
    assert_no_files c.dft
}

@test "PNG input needs --label; PNG and stream inputs do not mix; PNG options need PNGs" {
    cp "$FIX/rgb8.png" x.png
    run --separate-stderr pack x.png -o out.dft
    assert_failure
    [ "$stderr" = "pack: x.png: PNG input needs --label real|fake|unknown" ]
    run --separate-stderr pack --label real x.png "$FIX/rgb8.dft" -o out.dft
    assert_failure
    [[ $stderr == *"rgb8.dft: not a PNG file (PNG files and tensor streams cannot be mixed in one run)" ]]
    run --separate-stderr pack --label real "$FIX/rgb8.dft" -o out.dft
    assert_failure
    [[ $stderr == *"rgb8.dft: not a PNG file (--label, --dataset, --root and --key-prefix apply to PNG input only)" ]]
    run --separate-stderr pack --label maybe x.png
    assert_failure
    [ "$stderr" = "pack: --label: label 'maybe' is not real, fake, unknown, 0, 1 or -1" ]
    assert_no_files out.dft
}

@test "round trip: PNG -> stream -> PNG directory -> stream is byte-identical" {
    make_set 2 2 3
    pack --unpack out < set.dft
    [ -f out/real/v00/f00.png ] && [ -f out/fake/v01/f02.png ]
    [ "$(head -1 out/manifest.tsv)" = "$(printf 'path\tlabel\tkey\tdataset')" ]
    [ "$(grep -c . out/manifest.tsv)" -eq 13 ]
    grep -qxF "$(printf 'fake/v01/f02.png\tfake\tfake/v01/f02\tdemo')" out/manifest.tsv
    # re-pack from another directory: manifest paths are relative to the manifest
    mkdir elsewhere && cd elsewhere
    pack --manifest ../out/manifest.tsv -o ../back.dft
    cd ..
    cmp set.dft back.dft
    # the PNGs themselves decode to the same pixels as the originals
    pack --label real --root out out/real/v00/f01.png | pack --list | cut -f4,5 > a
    pack --label real --root src src/real/v00/f01.png | pack --list | cut -f4,5 > b
    cmp a b
    assert_no_temporaries .
}

@test "--unpack: keys name files; bad keys, non-images, duplicate keys and non-empty DIR are refused whole" {
    mkdir -p src/aa && cp "$FIX/rgb8.png" src/aa/f01.png && cp "$FIX/gray8.png" src/aa/f02.png
    pack --label real --root src src/aa/f01.png src/aa/f02.png -o good.dft
    # key aa/f02 -> ../f02 (record 1), written in place in the metadata of record 1
    size0=$(pack --label real --root src src/aa/f01.png | wc -c)
    cp good.dft dotdot.dft
    printf '..' | dd of=dotdot.dft bs=1 seek=$((size0 + 128 + 4)) conv=notrunc status=none
    [ "$(keys dotdot.dft | tail -1)" = "../f02" ]
    run --separate-stderr pack --unpack out dotdot.dft
    assert_failure
    [ "$stderr" = "pack: dotdot.dft: record 1: key '../f02' has a '.' or '..' component" ]
    assert_no_files out
    assert_no_temporaries .
    cp good.dft abs.dft
    printf '/' | dd of=abs.dft bs=1 seek=132 conv=notrunc status=none
    run --separate-stderr pack --unpack out abs.dft
    assert_failure
    [ "$stderr" = "pack: abs.dft: record 0: key '/a/f01' is an absolute path" ]
    run --separate-stderr pack --unpack out "$FIX/checkpoint.dft"
    assert_failure
    [[ $stderr == "pack: $FIX/checkpoint.dft: record 0: not an u8 HxWx3 image (u8 10)"* ]]
    cat good.dft good.dft > twice.dft
    run --separate-stderr pack --unpack out twice.dft
    assert_failure
    [ "$stderr" = "pack: twice.dft: record 2: key 'aa/f01' already used by image 0" ]
    assert_no_files out
    assert_no_temporaries .
    mkdir full && touch full/x
    run --separate-stderr pack --unpack full good.dft
    assert_failure
    [ "$stderr" = "pack: full: exists and is not empty (the output is a new directory)" ]
    mkdir empty
    pack --unpack empty/ good.dft
    [ -f empty/aa/f01.png ] && [ -f empty/manifest.tsv ]
}

@test "manifests: header or positional columns, keys, datasets, comments" {
    mkdir -p d/img
    cp "$FIX/rgb8.png" d/img/a.png
    cp "$FIX/gray8.png" d/img/b.png
    printf '# a comment\n\nimg/a.png\treal\nimg/b.png\t1\tcustom/v/b\tceleb\n' > d/plain.tsv
    pack --manifest d/plain.tsv --dataset given -o p.dft
    run pack --list p.dft
    assert_output "$(printf '0\timg/a\treal\tu8\t3x5x3\n1\tcustom/v/b\tfake\tu8\t3x5x3')"
    pack --manifest d/plain.tsv --dataset given | pack --unpack u
    grep -qxF "$(printf 'img/a.png\treal\timg/a\tgiven')" u/manifest.tsv
    grep -qxF "$(printf 'custom/v/b.png\tfake\tcustom/v/b\tceleb')" u/manifest.tsv
    # header with columns in another order; --key-prefix applies to derived keys only
    printf 'label\tpath\r\nfake\timg/b.png\r\n' > d/swapped.tsv
    pack --manifest d/swapped.tsv --key-prefix fs -o s.dft
    [ "$(keys s.dft)" = "fs/img/b" ]
    # a header must start with path
    printf 'path\tlabel\tkey\tdataset\nimg/a.png\tunknown\t\t\n' > d/h.tsv
    pack --manifest d/h.tsv -o h.dft
    run pack --list h.dft
    assert_output "$(printf '0\timg/a\tunknown\tu8\t3x5x3')"
}

@test "manifest errors name the file and the line" {
    mkdir -p d && cp "$FIX/rgb8.png" d/a.png
    check() {   # check CONTENT EXPECTED-STDERR
        printf "$1" > d/m.tsv
        run --separate-stderr pack --manifest d/m.tsv -o out.dft
        assert_failure
        [ "$stderr" = "$2" ] || fail "got '$stderr', want '$2'"
        assert_no_files out.dft
    }
    check 'a.png\treal\na.png\tmaybe\n' "pack: d/m.tsv: line 2: label 'maybe' is not real, fake, unknown, 0, 1 or -1"
    check '\n# c\na.png\n' "pack: d/m.tsv: line 3: expected 2 to 4 (path, label, [key, [dataset]]) tab-separated fields, got 1"
    check 'a.png\treal\tk\td\textra\n' "pack: d/m.tsv: line 1: expected 2 to 4 (path, label, [key, [dataset]]) tab-separated fields, got more"
    check 'path\tlable\n' "pack: d/m.tsv: line 1: unknown column 'lable' (columns are path, label, key, dataset)"
    check 'path\tkey\n' "pack: d/m.tsv: line 1: the header has no 'label' column"
    check 'label\tkey\n' "pack: d/m.tsv: line 1: the header has no 'path' column"
    check 'path\tlabel\tkey\tdataset\tx\n' "pack: d/m.tsv: line 1: more than 4 columns in the header"
    check 'path\tlabel\na.png\treal\tx\n' "pack: d/m.tsv: line 2: expected 2 (as in the header) tab-separated fields, got 3"
    check 'a.png\treal\tv/1\na.png\tfake\tv/1\n' "pack: d/m.tsv: line 2: key 'v/1' already given on line 1"
    check 'a.png\treal\t../x\n' "pack: d/m.tsv: line 1: key '../x' has a '.' or '..' component"
    check '/abs/a.png\treal\n' "pack: d/m.tsv: line 1: /abs/a.png: cannot derive a key from an absolute path (give --root DIR, or keys in a manifest)"
    check 'a.png\treal\nmissing.png\tfake\n' "pack: d/m.tsv: line 2: d/missing.png: No such file or directory"
    printf 'not a png' > d/bad.png
    check 'bad.png\treal\n' "pack: d/m.tsv: line 1: d/bad.png: not a PNG file"
    run --separate-stderr pack --manifest nope.tsv
    assert_failure
    [ "$stderr" = "pack: nope.tsv: No such file or directory" ]
}

@test "--take keeps the first N; streams flow through stdin and stdout" {
    make_set 2 2 3
    pack --take 3 set.dft -o t.dft
    run keys t.dft
    assert_output "$(printf 'real/v00/f00\nreal/v00/f01\nreal/v00/f02')"
    pack --take 0 set.dft -o none.dft
    [ ! -s none.dft ]
    cat set.dft | pack --take 100 | cmp - set.dft
    cat set.dft | pack --shuffle --seed 1 > a.dft
    pack --shuffle --seed 1 set.dft -o b.dft
    cmp a.dft b.dft
}

@test "--shuffle is a seeded permutation" {
    make_set 3 3 4
    pack --shuffle --seed 7 set.dft -o a.dft
    pack --shuffle --seed 7 set.dft -o b.dft
    pack --shuffle --seed 8 set.dft -o c.dft
    cmp a.dft b.dft
    ! cmp -s a.dft c.dft
    ! cmp -s a.dft set.dft
    [ "$(keys a.dft | sort)" = "$(keys set.dft | sort)" ]
    [ "$(pack --list a.dft | sort -k2 | cut -f2-)" = "$(pack --list set.dft | sort -k2 | cut -f2-)" ]
}

@test "--balance keeps min(#real, #fake) of each, deterministically; --take caps it" {
    make_set 2 4 3   # 6 real, 12 fake
    pack --balance set.dft -o bal.dft
    [ "$(pack --list bal.dft | cut -f3 | sort | uniq -c | tr -s ' ')" = "$(printf ' 6 fake\n 6 real')" ]
    # without --shuffle: the first 6 fake records in input order
    [ "$(keys bal.dft | tail -6)" = "$(keys f.dft | head -6)" ]
    pack --balance --take 5 set.dft -o two.dft
    [ "$(pack --list two.dft | cut -f3 | sort | uniq -c | tr -s ' ')" = "$(printf ' 2 fake\n 2 real')" ]
    pack --balance --shuffle --seed 3 set.dft -o s1.dft
    pack --balance --shuffle --seed 3 set.dft -o s2.dft
    cmp s1.dft s2.dft
    [ "$(pack --list s1.dft | cut -f3 | sort | uniq -c | tr -s ' ')" = "$(printf ' 6 fake\n 6 real')" ]
    # one label missing: an empty output and a warning
    run --separate-stderr pack --balance r.dft -o none.dft
    assert_success
    [ "$stderr" = "pack: --balance: the input holds no real or no fake records, so nothing is kept" ]
    [ ! -s none.dft ]
    # unknown labels cannot be balanced
    cp "$FIX/rgb8.png" u.png
    pack --label unknown u.png | cat set.dft - > mixed.dft
    run --separate-stderr pack --balance mixed.dft -o out.dft
    assert_failure
    [ "$stderr" = "pack: mixed.dft: record 18: label unknown; balancing needs every sample labelled real or fake" ]
    assert_no_files out.dft
}

@test "--split by video: no video on both sides, fractions per label, deterministic" {
    make_set 10 10 3   # 30 real frames, 30 fake frames, 20 videos
    pack --split 0.7 --by video --seed 5 set.dft -o a.dft -o b.dft
    vids() { keys "$1" | sed 's|/[^/]*$||' | sort -u; }
    [ -z "$(comm -12 <(vids a.dft) <(vids b.dft))" ]
    [ "$(cat <(keys a.dft) <(keys b.dft) | sort)" = "$(keys set.dft | sort)" ]
    real_a=$(pack --list a.dft | cut -f3 | grep -c real)
    fake_a=$(pack --list a.dft | cut -f3 | grep -c fake)
    [ "$real_a" -eq 21 ] && [ "$fake_a" -eq 21 ]   # 0.7 * 30, reachable exactly with 3-frame videos
    # whole videos: each video's frame count on its side is 3
    [ -z "$(keys a.dft | sed 's|/[^/]*$||' | sort | uniq -c | awk '$1 != 3')" ]
    pack --split 0.7 --by video --seed 5 set.dft -o a2.dft -o b2.dft
    cmp a.dft a2.dft && cmp b.dft b2.dft
    pack --split 0.7 --by video --seed 6 set.dft -o a3.dft -o b3.dft
    ! cmp -s a.dft a3.dft
    # order within each part is the input order
    [ "$(keys a.dft)" = "$(keys set.dft | grep -Fx -f <(keys a.dft))" ]
    # extremes and the per-record unit
    pack --split 0 set.dft -o z.dft -o all.dft
    [ ! -s z.dft ] && cmp all.dft set.dft
    pack --split 0.5 --by record --seed 1 set.dft -o ra.dft -o rb.dft
    [ "$(pack --list ra.dft | wc -l)" -eq 30 ]
    # stdout may be one of the parts
    pack --split 0.7 --seed 5 set.dft -o - -o b4.dft | cmp - a.dft
}

@test "--split needs two outputs; --by needs --split; bad values are refused" {
    cp "$FIX/rgb8.dft" s.dft
    run --separate-stderr pack --split 0.5 s.dft -o a.dft
    assert_failure
    [ "$stderr" = "pack: --split needs two outputs: -o A -o B" ]
    run --separate-stderr pack --by video s.dft -o a.dft
    assert_failure
    [ "$stderr" = "pack: --by needs --split" ]
    run --separate-stderr pack --split 1.5 s.dft -o a.dft -o b.dft
    assert_failure
    [ "$stderr" = "pack: --split: 1.5 is outside [0, 1]" ]
    run --separate-stderr pack --by frame --split 0.5 s.dft -o a.dft -o b.dft
    assert_failure
    [ "$stderr" = "pack: --by: 'frame' is not video or record" ]
    run --separate-stderr pack --take -1 s.dft
    assert_failure
    run --separate-stderr pack -o a.dft -o b.dft s.dft
    assert_failure
    [ "$stderr" = "pack: two outputs only with --split" ]
    # a split by video needs keys
    run --separate-stderr pack --split 0.5 "$FIX/checkpoint.dft" -o a.dft -o b.dft
    assert_failure
    [[ $stderr == "pack: $FIX/checkpoint.dft: record 0: no key; splitting by video needs the key= of every sample" ]]
    assert_no_files a.dft b.dft
}

@test "--split by video refuses a key without '/' (it names no video); --by record splits it" {
    pack --label real --root "$FIX" "$FIX/rgb8.png" "$FIX/gray8.png" -o flat.dft   # keys rgb8, gray8
    run --separate-stderr pack --split 0.5 flat.dft -o a.dft -o b.dft
    assert_failure
    [ "$stderr" = "pack: flat.dft: record 0: key 'rgb8' has no video part (expected VIDEO/FRAME, e.g. fs/000_003/f05); --by record splits single records" ]
    assert_no_files a.dft b.dft
    pack --split 0.5 --by record flat.dft -o a.dft -o b.dft
    [ "$(pack --list a.dft | wc -l)" -eq 1 ] && [ "$(pack --list b.dft | wc -l)" -eq 1 ]
}

@test "sampling errors on PNG inputs name the file or the manifest line" {
    run --separate-stderr pack --label unknown --balance --root "$FIX" "$FIX/rgb8.png" "$FIX/gray8.png" -o x.dft
    assert_failure
    [ "$stderr" = "pack: $FIX/rgb8.png: label unknown; balancing needs every sample labelled real or fake" ]
    printf 'path\tlabel\tkey\n%s\treal\tv/1\n%s\tunknown\tv/2\n' "$FIX/rgb8.png" "$FIX/gray8.png" > m.tsv
    run --separate-stderr pack --manifest m.tsv --balance -o x.dft
    assert_failure
    [ "$stderr" = "pack: m.tsv: line 3: label unknown; balancing needs every sample labelled real or fake" ]
    run --separate-stderr pack --label real --split 0.5 --root "$FIX" "$FIX/gray8.png" -o a.dft -o b.dft
    assert_failure
    [ "$stderr" = "pack: $FIX/gray8.png: key 'gray8' has no video part (expected VIDEO/FRAME, e.g. fs/000_003/f05); --by record splits single records" ]
    assert_no_files x.dft a.dft b.dft
}

@test "--keep writes one label, after sampling: the study's unpack, filter and repack in one step" {
    synth --role fs --videos 8 --frames 3 --size 32 --seed 2 > s.dft   # 12 real, 12 fake frames
    pack --keep fake s.dft -o f.dft
    [ "$(pack --list f.dft | cut -f2,3)" = "$(pack --list s.dft | awk -F'\t' '$3 == "fake"' | cut -f2,3)" ]
    # sampling sees both labels: a balanced 8 is 4 fakes
    pack --shuffle --seed 7 --balance --take 8 --keep fake s.dft -o k.dft
    [ "$(pack --list k.dft | cut -f3 | sort | uniq -c | tr -s ' ')" = " 4 fake" ]
    # the same images, keys, labels and datasets as the round trip study.mk used
    pack --shuffle --seed 7 --balance --take 8 --unpack rt.d s.dft
    awk -F'\t' 'NR == 1 || $2 == "fake"' rt.d/manifest.tsv > rt.d/fakes.tsv
    pack --manifest rt.d/fakes.tsv --unpack rt.png
    pack --unpack k.png k.dft
    diff -r rt.png k.png
    # the record's other metadata is kept (the round trip dropped it)
    [ "$(pack --list --meta frame k.dft | cut -f6 | grep -c -- '^-$')" -eq 0 ]
    # --take counts records before --keep, streaming or not
    [ "$(pack --take 6 --keep real s.dft | pack --list | wc -l)" -eq "$(pack --take 6 s.dft | pack --list | grep -c real)" ]
    # with --split, both parts
    pack --split 0.5 --keep real s.dft -o a.dft -o b.dft
    [ "$(cat <(pack --list a.dft) <(pack --list b.dft) | cut -f3 | sort -u)" = real ]
    [ "$(cat <(pack --list a.dft) <(pack --list b.dft) | wc -l)" -eq 12 ]
}

@test "--keep: a bad label, twice, or with --list is refused" {
    cp "$FIX/rgb8.dft" s.dft
    run --separate-stderr pack --keep maybe s.dft -o o.dft
    assert_failure
    [ "$stderr" = "pack: --keep: label 'maybe' is not real, fake, unknown, 0, 1 or -1" ]
    run --separate-stderr pack --keep real --keep fake s.dft -o o.dft
    assert_failure
    [ "$stderr" = "pack: --keep: given twice" ]
    run --separate-stderr pack --list --keep real s.dft
    assert_failure
    [ "$stderr" = "pack: --list takes only input streams (and -o FILE)" ]
    assert_no_files o.dft
}

@test "--size on a non-image record fails naming the file and record" {
    run --separate-stderr pack --size 4 "$FIX/checkpoint.dft" -o out.dft
    assert_failure
    [ "$stderr" = "pack: $FIX/checkpoint.dft: record 0: resizing needs an u8 HxWx3 image record, got u8 10" ]
    assert_no_files out.dft
}

@test "--list --meta adds metadata columns; --drop-keys leaves records out by key" {
    synth --role celeb --split train --videos 2 --frames 2 --size 32 --seed 1 > s.dft
    run pack --list --meta frame --meta nosuch s.dft
    assert_line --index 1 "$(printf '1\tceleb/id0_0000/f01\treal\tu8\t32x32x3\t1\t-')"
    printf '# a comment\n\nceleb/id0_0000/f01\nceleb/no/such\n' > drop.txt
    pack --drop-keys drop.txt s.dft -o kept.dft
    assert_equal "$(pack --list kept.dft | cut -f2 | tr '\n' ' ')" "celeb/id0_0000/f00 celeb/id0_id3_0000/f00 celeb/id0_id3_0000/f01 "
    # with sampling, before it: --take counts the kept records
    pack --drop-keys drop.txt --shuffle --seed 2 --take 3 s.dft -o kept2.dft
    assert_equal "$(pack --list kept2.dft | cut -f2 | sort | tr '\n' ' ')" "celeb/id0_0000/f00 celeb/id0_id3_0000/f00 celeb/id0_id3_0000/f01 "
    printf 'bad//key\n' > bad.txt
    run --separate-stderr pack --drop-keys bad.txt s.dft -o x.dft
    assert_failure
    [[ $stderr == "pack: bad.txt: line 1: "* ]]
    [ ! -e x.dft ]
    run --separate-stderr pack --meta frame s.dft
    assert_failure
    assert_equal "$stderr" "pack: --meta goes with --list"
}

@test "-o naming a FIFO writes into it and leaves it a FIFO (a temporary renamed over it would replace it)" {
    # the same rule keeps /dev/null a device when a tool runs as root with -o /dev/null
    local n=${CONVERSIONS%% *}
    mkfifo out.fifo
    timeout 60 cat out.fifo > got.dft &   # without the rule the reader would wait for a writer forever
    pack --label real --dataset fixture --root "$FIX" "$FIX/$n.png" -o out.fifo
    wait $!
    [ -p out.fifo ]
    cmp got.dft "$FIX/$n.dft"
    assert_no_temporaries
}
