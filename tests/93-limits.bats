#!/usr/bin/env bats
# Limits: a size read from a file is checked before anything is allocated for it. Each hostile
# input is refused with one line naming the file and the problem, and each runs under
# `ulimit -v` (1 GiB of address space), so an attempted huge allocation would fail loudly
# ("out of memory allocating N bytes") instead of passing unnoticed on an overcommitting kernel.
load badinput

LIMIT_KB=1048576

setup_file() { make_fixtures; }

# limited CMD...: CMD under the address-space limit
limited() { (ulimit -v "$LIMIT_KB" && "$@"); }

@test "limits: the tools run under the address-space limit at all" {
    fixture img.dft meso4.ckpt
    limited pack --list img.dft > /dev/null
    limited predict -m meso4.ckpt img.dft -o out.tsv
    [ -s out.tsv ]
}

@test "limits: a stream record claiming 10^12 bytes" {
    header 1 -1 0 1000000000000 1000000 1000000 > huge.dft
    bad pack huge.dft "record 0: payload of 1000000000000 bytes" -- limited pack huge.dft -o out.dft
    fixture meso4.ckpt
    bad predict huge.dft "record 0: payload of 1000000000000 bytes" -- limited predict -m meso4.ckpt huge.dft -o out.tsv
    bad pack "<stdin>" "record 0: payload of 1000000000000 bytes" -- limited sh -c 'pack -o out.dft < huge.dft'
}

@test "limits: a stream record claiming 1.5 GB (under the 2 GiB cap) in a small file is truncated, not allocated" {
    header 1 -1 0 1500000000 50000 30000 > big.dft
    printf 'tiny' >> big.dft
    bad pack big.dft "record 0: truncated payload" -- limited pack big.dft -o out.dft
    bad ssim big.dft "record 0: truncated payload" -- limited ssim big.dft big.dft -o out.tsv
}

# png_size W H: rgb8.png with its IHDR size patched and the CRC recomputed (gzip's trailer holds
# the same CRC-32, little-endian)
png_size() {
    cp "$BATS_TEST_DIRNAME/fixtures/png/rgb8.png" huge.png
    patch huge.png 16 "$(le_be32 "$1")$(le_be32 "$2")"
    local crc
    crc=$(tail -c +13 huge.png | head -c 17 | gzip -c | tail -c 8 | head -c 4 | od -An -t x1 | tr -d ' \n')
    patch huge.png 29 "\\x${crc:6:2}\\x${crc:4:2}\\x${crc:2:2}\\x${crc:0:2}"
}
le_be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }

@test "limits: a PNG claiming 100000x100000 pixels, or 30000x30000" {
    png_size 100000 100000
    bad pack huge.png "IHDR" -- limited pack --label real huge.png -o out.dft
    printf 'path\tlabel\nhuge.png\t1\n' > m.tsv
    bad pack huge.png "m.tsv: line 2" -- limited pack --manifest m.tsv -o out.dft
    png_size 30000 30000   # each side allowed, the pixel count not
    bad pack huge.png "image too large" -- limited pack --label real huge.png -o out.dft
}

@test "limits: a checkpoint claiming a model far larger than the file" {
    fixture shallow.ckpt
    : > e.bin
    local r0
    r0=$(rec_len shallow.ckpt 0)
    { record 1 -1 'key=shallownet\nformat=dfstudy-checkpoint\nversion=1\narch=shallownet\nsize=4096\ntensors=24\ntrain_state=0\n' e.bin 0
      tail -c +$((r0 + 1)) shallow.ckpt; } > huge.ckpt
    rm e.bin shallow.ckpt
    fixture img.dft
    bad predict huge.ckpt "record 0 names shallownet at size 4096, 136367770756 bytes of parameters, but the file holds only" -- limited predict -m huge.ckpt img.dft -o out.tsv
    bad cam huge.ckpt "but the file holds only" -- limited sh -c 'cam -m huge.ckpt -o out.dft < img.dft'
    bad ace huge.ckpt "but the file holds only" -- limited ace -m huge.ckpt img.dft -o out.tsv
}

@test "limits: a checkpoint tensor claiming 10^12 bytes" {
    fixture meso4.ckpt img.dft
    local r0
    r0=$(rec_len meso4.ckpt 0)
    # (followed by as many bytes as the real tensors take, so the whole-file check passes)
    { head -c "$r0" meso4.ckpt; header 9 -1 0 1000000000000 250000000000; head -c 60000 /dev/zero; } > huge.ckpt
    rm meso4.ckpt
    bad predict huge.ckpt "record 1: payload of 1000000000000 bytes" -- limited predict -m huge.ckpt img.dft -o out.tsv
}

# a line of 1 GB that nobody stores: a pipe, refused after the first MiB
gigaline() { head -c 1000000000 /dev/zero | tr '\0' a; }

@test "limits: a manifest and a video manifest with a 1 GB line" {
    bad pack /dev/fd/ "line 1: longer than 1048576 bytes" -- limited pack --manifest <(gigaline) -o out.dft
    fixture img.dft
    bad pack /dev/fd/ "line 2: longer than 1048576 bytes" -- limited pack --relabel <(printf 'video\tlabel\n'; gigaline) img.dft -o out.dft
}

@test "limits: a score TSV, an ace table and a box list with a 1 GB line" {
    bad score /dev/fd/ "line 2: longer than 1048576 bytes" -- limited score <(printf 'key\tdataset\tlabel\tp_fake\n'; gigaline) -o out.tsv
    bad ace /dev/fd/ "line 1: longer than 1048576 bytes" -- limited ace --overlap --top 1 <(gigaline) <(gigaline) -o out.tsv
    fixture img.dft
    bad crop /dev/fd/ "line 1: longer than 1048576 bytes" -- limited crop --boxes <(gigaline) img.dft -o out.dft
}
