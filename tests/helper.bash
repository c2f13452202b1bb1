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
            # TORCH_PYTHON: the first of $PYTHON, python3 on PATH and Debian's /usr/bin/python3
            # that imports torch and numpy (a pyenv python3 on PATH may have neither)
            python-torch)
                TORCH_PYTHON=""
                local py
                for py in ${PYTHON:-} python3 /usr/bin/python3; do
                    if "$py" -c 'import torch, numpy' 2>/dev/null; then TORCH_PYTHON=$py; break; fi
                done
                [ -n "$TORCH_PYTHON" ] || skip "test requires python3-torch" ;;
            opencv-data) [ -d /usr/share/opencv4/haarcascades ] || skip "test requires opencv-data" ;;
            *) fail "requires: unknown requirement '$r'" ;;
        esac
    done
}

# f32_maxdiff A B: the largest |a - b| over the f32 payloads of two tensor streams of the same
# record shapes (formats/tensor-stream.md; perl, which every Debian system has)
f32_maxdiff() {
    perl -e '
        sub recs { open(my $f, "<:raw", $_[0]) or die "$_[0]: $!"; local $/; my $d = <$f>; my @r; my $p = 0;
            while ($p < length $d) { my ($m, $pl) = unpack("V Q<", substr($d, $p + 12, 12));
                $p += 128 + (($m + 7) & ~7); push @r, [unpack("f<*", substr($d, $p, $pl))]; $p += ($pl + 7) & ~7 }
            return @r }
        my @a = recs($ARGV[0]); my @b = recs($ARGV[1]); die "record counts differ\n" if @a != @b; my $max = 0;
        for my $i (0 .. $#a) { for my $j (0 .. $#{$a[$i]}) { my $d = abs($a[$i][$j] - $b[$i][$j]); $max = $d if $d > $max } }
        print "$max\n"' "$1" "$2"
}

# scores_maxdiff A B: the largest |a - b| over the score columns (every column after the key and
# the dataset) of two score tables of the same keys in the same order; fails when keys or headers differ
scores_maxdiff() {
    paste "$1" "$2" | awk -F'\t' '
        NR == 1 { n = NF / 2; for (i = 1; i <= n; i++) if ($i != $(i + n)) { print "headers differ" > "/dev/stderr"; exit 2 }; next }
        $1 != $(1 + n) || $2 != $(2 + n) { printf "line %d: keys differ\n", NR > "/dev/stderr"; exit 2 }
        { for (i = 3; i <= n; i++) { d = $i - $(i + n); if (d < 0) d = -d; if (d > max) max = d } }
        END { printf "%g\n", max + 0 }'
}

# batch_invariant scores|maps A B: A and B are one input run with two --batch values. On the
# cpu (cpu, cpu-split) they must be the same bytes: every per-image computation runs in an order
# fixed per image (README, Numerics). On a GPU, cuBLAS chooses its kernels by the shape, so
# another batch may change the last bits: there they must agree within the tolerances the README
# states across OpenBLAS kernels (scores 1e-5, Grad-CAM maps 1e-4), and the difference is printed.
batch_invariant() {
    local kind=$1 a=$2 b=$3 d tol
    case "$DFS_DEVICE" in cpu|cpu-split) cmp "$a" "$b"; return ;; esac
    case "$kind" in
    scores) d=$(scores_maxdiff "$a" "$b") || return 1; tol=1e-5 ;;
    maps) d=$(f32_maxdiff "$a" "$b") || return 1; tol=1e-4 ;;
    *) echo "batch_invariant: scores or maps, not '$kind'" >&2; return 2 ;;
    esac
    echo "# $DFS_DEVICE: $kind of $a and $b differ by $d (tolerance $tol)" >&3
    awk -v d="$d" -v t="$tol" 'BEGIN { exit !(d <= t) }' || { echo "$kind differ by $d (> $tol)" >&2; return 1; }
}

# check_progress_counter LOG: make study's progress lines (pipelines/progress.sh) in LOG are
# "study: [k/N] TARGET SECONDS[, about T left]", k running 1..N in order, each target once, N the
# count announced first, an estimate on at least half of them, report.md last
check_progress_counter() {
    local log=$1 n
    n=$(sed -n 's/^study: \([0-9][0-9]*\) targets to make in .*/\1/p' "$log")
    [ -n "$n" ] && [ "$n" -gt 50 ]
    run awk -v n="$n" 'match($0, /^study: \[[0-9]+\/[0-9]+\] /) {
            split(substr($0, 9, RLENGTH - 10), a, "/")
            if (a[1] != ++k || a[2] != n) { print "bad line " NR ": " $0; exit 1 }
            t = $3; if (t in seen) { print "twice: " t; exit 1 } seen[t] = 1
            if ($4 !~ /^[0-9]+\.[0-9]s,?$/) { print "no seconds: " $0; exit 1 }
            if ($0 ~ /left$/) eta++
        }
        END { if (k != n) { print "reached " k " of " n; exit 1 }
              if (eta < n / 2) { print "an estimate on only " eta " lines"; exit 1 }
              if (t != "report.md") { print "last: " t; exit 1 } }' "$log"
    assert_success
}
