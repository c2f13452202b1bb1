#!/usr/bin/env bash
# Run every C unit test binary and every bats suite, count their TAP results together, and end
# with the summary line "N passed, N failed[, N skipped]". Exit status is non-zero on any failure.
#   BUILD=build tests/run.sh [--unit-only] [--filter REGEX]
# DFS_RUNNER: a command each unit test binary runs under (qemu-aarch64 for `make cross-arm64`).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
# Idle OpenMP threads spin by default; on a loaded machine (a parallel bats run) that starves the
# threads doing work, so tests let them sleep.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# The suite checks the cpu, the oracle, on every machine (with a GPU, auto would pick cuda, whose
# results agree with the cpu's only to float rounding and whose tools name the GPU on stderr);
# tests of other devices name them. DFS_DEVICE=auto make test runs the tool tests on a GPU.
export DFS_DEVICE=${DFS_DEVICE:-cpu}
unit_only=0
filter=""
while [ $# -gt 0 ]; do
    case "$1" in
        --unit-only) unit_only=1 ;;
        --filter) filter=$2; shift ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0 skip=0
count() {   # count TAP lines in $log, echo failing ones
    local p f s
    p=$(grep -cE '^ok [0-9]+' "$log" | head -1)
    s=$(grep -cE '^ok [0-9]+.*# [Ss][Kk][Ii][Pp]' "$log" | head -1)
    f=$(grep -cE '^not ok [0-9]+' "$log" | head -1)
    pass=$((pass + p - s)); skip=$((skip + s)); fail=$((fail + f))
}
read -r -a runner <<< "${DFS_RUNNER:-}"
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    [ -n "$filter" ] && ! [[ $t =~ $filter ]] && continue
    echo "== $(basename "$t")"
    "${runner[@]}" "$t" > "$log" 2>&1
    rc=$?
    grep -vE '^ok [0-9]+' "$log" | grep -vE '^1\.\.[0-9]+$' | sed 's/^/   /'
    count
    if [ $rc -ne 0 ] && ! grep -qE '^not ok' "$log"; then
        echo "   not ok - $(basename "$t") exited with status $rc"
        fail=$((fail + 1))
    fi
done
if [ $unit_only -eq 0 ]; then
    suites=$(ls tests/*.bats 2>/dev/null)
    [ -n "$filter" ] && suites=$(printf '%s\n' $suites | grep -E "$filter")
    if [ -n "$suites" ]; then
        echo "== bats"
        jobs=$(nproc 2>/dev/null || echo 2)
        par=()
        command -v parallel >/dev/null && par=(--jobs "$jobs")
        # shellcheck disable=SC2086
        BUILD=$BUILD bats --tap "${par[@]}" $suites > "$log" 2>&1
        rc=$?
        grep -vE '^ok [0-9]+' "$log" | grep -vE '^1\.\.[0-9]+$' | sed 's/^/   /'
        count
        if [ $rc -ne 0 ] && ! grep -qE '^not ok' "$log"; then
            echo "   not ok - bats exited with status $rc"
            fail=$((fail + 1))
        fi
    fi
fi
summary="$pass passed, $fail failed"
[ $skip -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary"
[ $fail -eq 0 ]
