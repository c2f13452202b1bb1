# Helpers for the bad-input and limits suites (tests/9x-*.bats): build broken inputs byte by
# byte, run one failing command and check the whole error contract at once.
load helper

# ---- tensor-stream records from bash (formats/tensor-stream.md) ----
# le N BYTES: N as BYTES little-endian bytes, as printf escapes
le() {
    local v=$1 n=$2 i s=""
    for ((i = 0; i < n; i++)); do s+=$(printf '\\x%02x' $(((v >> (8 * i)) & 255))); done
    printf '%s' "$s"
}

# header DTYPE LABEL META_BYTES PAYLOAD_BYTES DIM...: a 128-byte record header on stdout
header() {
    local dtype=$1 label=$2 meta=$3 payload=$4 i h
    shift 4
    h='\x89TNS'$(le 1 2)$(le 128 2)$(le "$dtype" 1)$(le $# 1)$(le 0 2)$(le "$meta" 4)$(le "$payload" 8)
    h+=$(le $((label & 0xffffffff)) 4)$(le 0 4)
    for ((i = 1; i <= 8; i++)); do
        if [ "$i" -le $# ]; then h+=$(le "${!i}" 8); else h+=$(le 0 8); fi
    done
    h+=$(le 0 8)$(le 0 8)$(le 0 8)$(le 0 8)
    printf "$h"
}

# pad8 N: N zero bytes' worth of padding up to a multiple of 8
pad8() { head -c $(((8 - $1 % 8) % 8)) /dev/zero; }

# record DTYPE LABEL META PAYLOAD_FILE DIM...: a whole record (META: "key=a\n..." as printf text)
record() {
    local dtype=$1 label=$2 meta=$3 pfile=$4 m n
    shift 4
    m=$(printf "$meta" | wc -c)
    n=$(stat -c %s "$pfile")
    header "$dtype" "$label" "$m" "$n" "$@"
    printf "$meta"
    pad8 "$m"
    cat "$pfile"
    pad8 "$n"
}

# f32s V COUNT: COUNT little-endian f32 copies of V (nan, inf, half, zero)
f32s() {
    local b
    case $1 in
        nan) b='\x00\x00\xc0\x7f' ;;
        inf) b='\x00\x00\x80\x7f' ;;
        half) b='\x00\x00\x00\x3f' ;;
        zero) b='\x00\x00\x00\x00' ;;
    esac
    local i
    for ((i = 0; i < $2; i++)); do printf "$b"; done
}

# rec_len FILE OFFSET: bytes of the record that starts at OFFSET (header, padded meta and payload)
u64_at() { od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }
u32_at() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
rec_len() {
    local m p
    m=$(u32_at "$1" $(($2 + 12)))
    p=$(u64_at "$1" $(($2 + 16)))
    echo $((128 + (m + 7) / 8 * 8 + (p + 7) / 8 * 8))
}
# payload_at FILE OFFSET: offset of the payload of the record at OFFSET
payload_at() {
    local m
    m=$(u32_at "$1" $(($2 + 12)))
    echo $(($2 + 128 + (m + 7) / 8 * 8))
}
# patch FILE OFFSET BYTES(printf format): overwrite bytes in place
patch() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# ---- fixtures, made once per file in $BATS_FILE_TMPDIR and copied into each test ----
make_fixtures() {
    local d=$BATS_FILE_TMPDIR
    "$ROOT/bin/synth" --role fs --videos 2 --frames 2 --size 32 --seed 1 > "$d/img.dft"
    "$ROOT/bin/synth" --role fs --split val --videos 2 --frames 2 --size 32 --seed 2 > "$d/val.dft"
    "$ROOT/build/tests/test_cam" --make-ckpt meso4 32 "$d/meso4.ckpt" > /dev/null
    "$ROOT/build/tests/test_cam" --make-ckpt shallownet 32 "$d/shallow.ckpt" > /dev/null
}

# fixture NAME...: copy fixtures into the test's directory (tests run in parallel; each damages
# and checksums its own copies)
fixture() {
    local f
    for f in "$@"; do cp "$BATS_FILE_TMPDIR/$f" .; done
}

# ---- the contract of one bad-input cell ----
# snapshot: every path under . with the checksum of every file (outputs and temporaries show up
# as new paths, damaged inputs as new checksums)
snapshot() {
    find . -mindepth 1 ! -name 'separate-stderr-*' -printf '%y %p\n' | sort
    find . -type f ! -name 'separate-stderr-*' -print0 | sort -z | xargs -0 -r md5sum
}

# bad TOOL FILE PROBLEM -- COMMAND...: COMMAND fails with exactly one stderr line
# "TOOL: ...FILE...PROBLEM...", leaves the directory as it found it (no output, no temporary,
# inputs byte-identical). FILE "" skips the file check (for unknown flags).
bad() {
    local tool=$1 file=$2 problem=$3
    shift 4
    local before after
    before=$(snapshot)
    run --separate-stderr "$@"
    after=$(snapshot)
    [ "$status" -ne 0 ] || fail "exit 0 for: $*"
    [ "${#stderr_lines[@]}" -eq 1 ] || fail "want one stderr line, got ${#stderr_lines[@]}: $stderr"
    [[ "$stderr" == "$tool: "* ]] || fail "stderr does not start with '$tool: ': $stderr"
    [[ "$stderr" == *"$file"* ]] || fail "stderr does not name '$file': $stderr"
    [[ "$stderr" == *"$problem"* ]] || fail "stderr does not say '$problem': $stderr"
    assert_no_temporaries .
    [ "$before" = "$after" ] || fail "the directory changed: $(diff <(echo "$before") <(echo "$after"))"
}

# ---- unwritable directory and full disk: small tmpfs mounts, root only ----
MOUNTS=()
can_mount() {
    [ "$(id -u)" -eq 0 ] || return 1
    mkdir -p .probe && mount -t tmpfs -o size=4k tmpfs .probe 2> /dev/null || { rmdir .probe; return 1; }
    umount .probe && rmdir .probe
}
# readonly_dir DIR: DIR is a read-only tmpfs (root ignores chmod 555; a read-only mount binds)
readonly_dir() {
    can_mount || skip "unwritable directory: needs root and mount (tmpfs -o ro), not available here"
    mkdir -p "$1"
    mount -t tmpfs -o ro,size=64k tmpfs "$1"
    MOUNTS+=("$PWD/$1")
}
# full_dir DIR: DIR is a 64 KiB tmpfs, filled up
full_dir() {
    can_mount || skip "full disk: needs root and mount (tmpfs -o size=64k), not available here"
    mkdir -p "$1"
    mount -t tmpfs -o size=64k tmpfs "$1"
    MOUNTS+=("$PWD/$1")
    dd if=/dev/zero of="$1/filler" bs=4k status=none 2> /dev/null || true
}
teardown() {
    local m
    for m in "${MOUNTS[@]}"; do umount "$m" 2> /dev/null || umount -l "$m"; done
    MOUNTS=()
}
