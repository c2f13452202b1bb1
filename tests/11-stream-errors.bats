#!/usr/bin/env bats
# Every stream reader error, seen through a tool (pack): a non-zero exit, one line on stderr
# naming the file and the record, and no output left behind. Broken streams are made from a good
# one written by pack, with head -c, printf and dd conv=notrunc.
load helper

FIX="$BATS_TEST_DIRNAME/fixtures/png"

setup() {
    TMP="$BATS_TEST_TMPDIR"
    cd "$TMP" || return 1
    # three image records of 208 bytes each: 128 header + 32 metadata + 48 payload
    pack --label real --dataset fixture --root "$FIX" "$FIX/rgb8.png" "$FIX/gray8.png" "$FIX/palette8.png" -o good.dft
    REC=$(( $(stat -c %s good.dft) / 3 ))
}

# patch FILE OFFSET BYTES(printf format): overwrite bytes in place
patch() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# broken NAME OFFSET BYTES: a copy of good.dft with bytes overwritten
broken() { cp good.dft "$1"; patch "$1" "$2" "$3"; }

# expect_error FILE MESSAGE: every way of reading FILE fails with "pack: FILE: MESSAGE"
expect_error() {
    local file=$1 msg=$2
    run --separate-stderr pack --list "$file"
    assert_failure
    [ "$stderr" = "pack: $file: $msg" ] || fail "--list: got '$stderr', want 'pack: $file: $msg'"
    run --separate-stderr pack --list < "$file"
    assert_failure
    [ "$stderr" = "pack: <stdin>: $msg" ] || fail "stdin: got '$stderr'"
    run --separate-stderr pack "$file" -o out.dft
    assert_failure
    [ "$stderr" = "pack: $file: $msg" ] || fail "copy: got '$stderr'"
    run --separate-stderr pack --shuffle "$file" -o out.dft
    assert_failure
    [ "${#stderr_lines[@]}" -eq 1 ] && [ "$stderr" = "pack: $file: $msg" ] || fail "shuffle: got '$stderr'"
    run --separate-stderr pack --split 0.5 "$file" -o a.dft -o b.dft
    assert_failure
    [ "$stderr" = "pack: $file: $msg" ] || fail "split: got '$stderr'"
    run --separate-stderr pack --unpack dir "$file"
    assert_failure
    [ "$stderr" = "pack: $file: $msg" ] || fail "unpack: got '$stderr'"
    assert_no_files out.dft a.dft b.dft dir
    assert_no_temporaries .
}

@test "the good stream reads (the errors below come from the damage alone)" {
    [ "$REC" -eq 208 ]
    [ "$(pack --list good.dft | wc -l)" -eq 3 ]
    pack good.dft -o copy.dft
    cmp good.dft copy.dft
}

@test "truncated header" {
    head -c 100 good.dft > t.dft
    expect_error t.dft "record 0: truncated header (100 of 128 bytes)"
    head -c $((REC + 50)) good.dft > t1.dft
    expect_error t1.dft "record 1: truncated header (50 of 128 bytes)"
}

@test "truncated metadata and truncated payload" {
    head -c 140 good.dft > m.dft
    expect_error m.dft "record 0: truncated metadata"
    head -c $((3 * REC - 8)) good.dft > p.dft
    expect_error p.dft "record 2: truncated payload"
    head -c $((REC + 128 + 32 + 1)) good.dft > p1.dft
    expect_error p1.dft "record 1: truncated payload"
}

@test "bad magic, in the first record and a later one" {
    broken m0.dft 0 'X'
    expect_error m0.dft "record 0: bad magic 58 54 4e 53: not a tensor stream"
    broken m1.dft $((REC)) '\x00'
    expect_error m1.dft "record 1: bad magic 00 54 4e 53: not a tensor stream"
    printf '%0200d\n' 0 > text.dft
    expect_error text.dft "record 0: text, not a tensor stream (bad magic)"
}

@test "bad version, header size, dtype, rank, flags, label, reserved bytes" {
    broken v.dft 4 '\x02'
    expect_error v.dft "record 0: unsupported version 2 (this build reads 1)"
    broken h.dft 6 '\x40'
    expect_error h.dft "record 0: header size 64, expected 128"
    broken d.dft $((2 * REC + 8)) '\x63'
    expect_error d.dft "record 2: unknown dtype 99"
    broken r.dft 9 '\x09'
    expect_error r.dft "record 0: rank 9 above 8"
    broken f.dft 10 '\x01'
    expect_error f.dft "record 0: unknown flags 0x0001"
    broken l.dft 24 '\x07'
    expect_error l.dft "record 0: label 7 is not -1 (unknown), 0 (real) or 1 (fake)"
    broken z.dft 100 '\x01'
    expect_error z.dft "record 0: reserved header bytes are not zero"
}

@test "absurd dimensions are refused before anything is allocated" {
    broken o.dft 32 '\xff\xff\xff\xff\xff\xff\xff\xff'
    expect_error o.dft "record 0: absurd dimensions: the element count overflows"
    # consistent but huge: 2^32 x 5 x 3 bytes declared
    broken big.dft 32 '\x00\x00\x00\x00\x01'
    patch big.dft 16 '\x00\x00\x00\x00\x0f\x00\x00\x00'
    expect_error big.dft "record 0: payload of 64424509440 bytes above the 2147483648-byte limit"
    broken mis.dft 32 '\x04'
    expect_error mis.dft "record 0: payload size 45 does not match the shape (60 bytes expected)"
    broken extra.dft 72 '\x01'
    expect_error extra.dft "record 0: dimension 5 is set but rank is 3"
    broken ms.dft 12 '\xff\xff\xff\x00'
    expect_error ms.dft "record 0: metadata size 16777215 above the 65536-byte limit"
}

@test "bad metadata" {
    broken k.dft 128 'K'
    expect_error k.dft "record 0: metadata line 1: key has a character outside [a-z0-9_.]"
    broken e.dft 131 'x'
    expect_error e.dft "record 0: metadata line 1: not key=value"
    broken u.dft $((REC + 133)) '\xff'
    expect_error u.dft "record 1: metadata line 1: invalid UTF-8"
    broken n.dft 133 '\x00'
    expect_error n.dft "record 0: metadata line 1: NUL byte"
    broken dup.dft 137 'key=fixture1234\n'
    expect_error dup.dft "record 0: metadata line 2: duplicate key 'key'"
    broken nl.dft 152 'x'
    expect_error nl.dft "record 0: metadata line 2: missing final newline"
    broken pad.dft 153 '\x01'
    expect_error pad.dft "record 0: metadata padding is not zero"
    broken ppad.dft $((REC - 1)) '\x01'
    expect_error ppad.dft "record 0: payload padding is not zero"
}

@test "an empty file is a valid empty stream" {
    : > empty.dft
    run --separate-stderr pack --list empty.dft
    assert_success
    [ -z "$output" ] && [ -z "$stderr" ]
    pack empty.dft -o out.dft
    [ -f out.dft ] && [ ! -s out.dft ]
    pack --shuffle < empty.dft > out2.dft
    [ ! -s out2.dft ]
    pack --unpack dir empty.dft
    [ "$(cat dir/manifest.tsv)" = "$(printf 'path\tlabel\tkey\tdataset')" ]
}

@test "a missing file" {
    run --separate-stderr pack --list nope.dft
    assert_failure
    [ "$stderr" = "pack: nope.dft: No such file or directory" ]
    run --separate-stderr pack good.dft nope.dft -o out.dft
    assert_failure
    [ "$stderr" = "pack: nope.dft: No such file or directory" ]
    assert_no_files out.dft
    assert_no_temporaries .
}

@test "a corrupt PNG names the file and leaves no output" {
    head -c 60 "$FIX/rgb8.png" > cut.png
    run --separate-stderr pack --label real cut.png -o out.dft
    assert_failure
    [[ $stderr == "pack: cut.png: corrupt PNG ("* ]]
    [ "${#stderr_lines[@]}" -eq 1 ]
    # a damaged IDAT (its CRC no longer matches)
    cp "$FIX/rgb8.png" crc.png
    cp "$FIX/gray8.png" ok.png
    patch crc.png 45 '\x00\x00\x00'
    run --separate-stderr pack --label real ok.png crc.png -o out.dft
    assert_failure
    [ "$stderr" = "pack: crc.png: corrupt PNG (IDAT: incorrect data check)" ]
    run --separate-stderr pack --label real ok.png crc.png --unpack dir
    assert_failure
    [ "$stderr" = "pack: crc.png: corrupt PNG (IDAT: incorrect data check)" ]
    assert_no_files out.dft dir
    assert_no_temporaries .
    # a PNG given where a stream is expected
    run --separate-stderr pack --list "$FIX/blocks.png"
    assert_failure
    [[ $stderr == "pack: $FIX/blocks.png: record 0: "* ]]
}
