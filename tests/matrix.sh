#!/usr/bin/env bash
# The suite under every OpenBLAS kernel this CPU can run, with 1 and 2 threads, and under load:
# a test whose result depends on the BLAS kernel, the thread count or the machine's load fails
# here instead of on a newcomer's machine.
#
#   tests/matrix.sh           (make test-matrix) the whole suite with OPENBLAS_CORETYPE unset and
#                             set to each kernel below that the CPU runs, each with 1 and 2 threads;
#                             then two copies of the suite at once. Long: an hour or more on 2 cores.
#   tests/matrix.sh --quick   (.ci/run) the numerically sensitive part (unit tests; the train,
#                             predict, cam and ace suites) under the kernels that the environment's
#                             `make test` did not use: OPENBLAS_CORETYPE unset when the environment
#                             sets it, and one kernel of another instruction set (no FMA), 1 thread.
#   tests/matrix.sh --list    the kernels this CPU runs, one a line
# Ends with "N passed, N failed" over all runs; exit status non-zero when any run failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

# OpenBLAS's x86-64 kernels (Debian builds it with DYNAMIC_ARCH, so OPENBLAS_CORETYPE picks one)
# and the CPU flags each needs. Zen and Haswell share instruction sets but not all kernels.
kernels() {
    local flags
    flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
    [ -n "$flags" ] || return 0
    has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
    has pni && echo Prescott
    has sse4_2 && echo Nehalem
    has avx && echo Sandybridge
    has avx2 fma && echo Haswell
    has avx2 fma && echo Zen
    has avx512f avx512bw avx512vl avx512dq && echo SkylakeX
    return 0
}

mode=full
case "${1:-}" in
    --quick) mode=quick ;;
    --list) kernels; exit 0 ;;
    "") ;;
    *) echo "matrix.sh: unknown option $1" >&2; exit 2 ;;
esac

pass=0 fail=0 skip=0 runs=0 bad_runs=""
# run LABEL CORETYPE THREADS [run.sh args...]: one suite run, its counts added to the totals
run() {
    local label=$1 core=$2 threads=$3 log
    shift 3
    log=$(mktemp)
    echo "== matrix: $label (OPENBLAS_CORETYPE=${core:-unset}, $threads thread(s))"
    if [ -n "$core" ]; then
        OPENBLAS_CORETYPE=$core OMP_NUM_THREADS=$threads BUILD=$BUILD tests/run.sh "$@" > "$log" 2>&1
    else
        env -u OPENBLAS_CORETYPE OMP_NUM_THREADS="$threads" BUILD="$BUILD" tests/run.sh "$@" > "$log" 2>&1
    fi
    local rc=$? summary
    grep -E '^ *not ok|^ *# .*(failed|differ)' "$log" | head -40
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    echo "   $summary"
    local p f s
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<< "$summary")
    f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<< "$summary")
    s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<< "$summary")
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
    runs=$((runs + 1))
    if [ $rc -ne 0 ]; then
        [ "${f:-0}" -gt 0 ] || fail=$((fail + 1))   # a run that died without counting
        bad_runs="$bad_runs $label"
    fi
    rm -f "$log"
}

sensitive=(--filter 'test_|55-cam|60-train|61-train|62-device|65-ace')
if [ $mode = quick ]; then
    available=$(kernels)
    [ -n "${OPENBLAS_CORETYPE:-}" ] && run "default kernel" "" 1 "${sensitive[@]}"
    # Sandybridge: AVX without FMA, so every product is rounded before its sum (the FMA kernels
    # round once): the most different rounding among the common kernels
    for k in Sandybridge Prescott; do
        if grep -qx "$k" <<< "$available" && [ "$k" != "${OPENBLAS_CORETYPE:-}" ]; then
            run "$k" "$k" 1 "${sensitive[@]}"
            break
        fi
    done
else
    for threads in 1 2; do
        run "default kernel" "" "$threads"
        for k in $(kernels); do run "$k" "$k" "$threads"; done
    done
    # under load: two copies of the whole suite at once, each must pass
    echo "== matrix: two copies of the suite at once"
    la=$(mktemp) lb=$(mktemp)
    BUILD=$BUILD tests/run.sh > "$la" 2>&1 & pa=$!
    BUILD=$BUILD tests/run.sh > "$lb" 2>&1 & pb=$!
    wait $pa; ra=$?
    wait $pb; rb=$?
    for pair in "$la:$ra" "$lb:$rb"; do
        lg=${pair%:*} rc=${pair##*:}
        grep -E '^ *not ok' "$lg" | head -20
        summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$lg" | tail -1)
        echo "   $summary"
        p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<< "$summary")
        f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<< "$summary")
        pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); runs=$((runs + 1))
        if [ "$rc" -ne 0 ]; then
            [ "${f:-0}" -gt 0 ] || fail=$((fail + 1))
            bad_runs="$bad_runs under-load"
        fi
    done
    rm -f "$la" "$lb"
fi

echo "== matrix: $runs runs${bad_runs:+, failing:$bad_runs}"
summary="$pass passed, $fail failed"
[ $skip -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary"
[ $fail -eq 0 ]
