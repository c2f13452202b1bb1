# Shared helper for the bats suites: binaries from bin/, a temporary directory per test,
# bats-support and bats-assert, and small utilities.
bats_require_minimum_version 1.7.0
ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
BIN="${DFS_BIN:-$ROOT/bin}"
PATH="$BIN:$PATH"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}   # see tests/run.sh
export DFS_DEVICE=${DFS_DEVICE:-cpu}                       # see tests/run.sh
# DFS_BATS_LIB: where bats-support and bats-assert are when not installed (bench/gpu-pack.sh carries them)
load "${DFS_BATS_LIB:-/usr/lib/bats}/bats-support/load"
load "${DFS_BATS_LIB:-/usr/lib/bats}/bats-assert/load"

setup() {
    TMP="$BATS_TEST_TMPDIR"
    cd "$TMP" || return 1
}

# no file matching the glob exists (e.g. no leftover temporary outputs)
assert_no_files() {
    local f
    for f in "$@"; do
        [ -e "$f" ] && { echo "unexpected file: $f" >&2; return 1; }
    done
    return 0
}

# a directory holds no *.tmp.* leftovers
assert_no_temporaries() {
    local left
    left=$(find "${1:-.}" -name '*.tmp.*' 2>/dev/null)
    [ -z "$left" ] || { echo "temporary files left: $left" >&2; return 1; }
}

# skip unless a requirement is met; unknown requirements fail (so typos don't become skips)
requires() {
    local r
    for r in "$@"; do
        case "$r" in
            python-torch) python3 -c 'import torch' 2>/dev/null || skip "test requires python3-torch" ;;
            opencv-data) [ -d /usr/share/opencv4/haarcascades ] || skip "test requires opencv-data" ;;
            *) fail "requires: unknown requirement '$r'" ;;
        esac
    done
}
