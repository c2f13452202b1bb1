#!/usr/bin/env bats
# The report's gnuplot figures (pipelines/study-figures.sh) read at the size report.md shows them:
# rendered as SVG from the same settings, no two texts overlap (tests/svg_text_overlap.py
# estimates each text's box from its font size and characters), none is dropped for want of
# room, and the PNGs stay within a Markdown viewer's ~900 px column (wider ones are scaled down).
load helper

setup() {
    TMP="$BATS_TEST_TMPDIR"
    cd "$TMP" || return 1
    command -v gnuplot >/dev/null || skip "gnuplot not installed (make deps)"
}

# a run's rq3/ssim-hist.tsv and rq4/overlap5.tsv for the architectures (study.mk's names) and
# the Ks given; counts made up, the largest bins taller than the key's row
fake_run() {   # fake_run DIR "ARCH..." "K..."
    local d=$1 archs=$2 ks=$3 a n g
    mkdir -p "$d/rq3" "$d/rq4"
    printf 'group\tdataset\tbin\tcount\tpercent\n' > "$d/rq3/ssim-hist.tsv"
    for a in $archs; do
        n=$(awk -F'\t' -v a="$a" '$1 == "architecture" && $2 == a { print $3 }' "$ROOT/pipelines/study.conf")
        [ -n "$n" ] || return 1
        for g in 1-3 4-6; do
            for t in CELEB DF; do
                printf '%s\t%s\t<0.7\t3\t0\n%s\t%s\t0.7-<0.9\t5\t0\n%s\t%s\t>=0.9\t40\t0\n%s\t%s\ttotal\t48\t100\n' \
                    "$n$g" $t "$n$g" $t "$n$g" $t "$n$g" $t >> "$d/rq3/ssim-hist.tsv"
            done
        done
    done
    printf 'k\tj\tobserved\texpected\tp_value\n' > "$d/rq4/overlap5.tsv"
    for k in $ks; do
        printf '%s\t1\t300\t247.2\t-\n%s\t2\t80\t33\t-\n%s\t3\t30\t2.2\t-\n%s\t4\t9\t0.07\t-\n%s\t5\t0\t0.001\t1\n' \
            "$k" "$k" "$k" "$k" "$k" >> "$d/rq4/overlap5.tsv"
    done
}

check_figures() {   # check_figures DIR NGROUPS NKS
    local d=$1 groups=$2 ks=$3 g k w
    FIG_FORMAT=svg sh "$ROOT/pipelines/study-figures.sh" "$d"
    run python3 "$ROOT/tests/svg_text_overlap.py" "$d/figures/ssim.svg" "$d/figures/overlap.svg"
    assert_success
    # gnuplot leaves out a text that falls off the canvas: every label must be there
    for g in $(awk -F'\t' 'NR > 1 { print $1 }' "$d/rq3/ssim-hist.tsv" | sort -u); do
        grep -q ">$g</tspan>" "$d/figures/ssim.svg" || fail "ssim.svg lacks the label $g"
    done
    [ "$(awk -F'\t' 'NR > 1 { print $1 }' "$d/rq3/ssim-hist.tsv" | sort -u | wc -l)" -eq "$groups" ]
    for k in $(awk -F'\t' 'NR > 1 { print $1 }' "$d/rq4/overlap5.tsv" | sort -u); do
        grep -q ">K = $k</tspan>" "$d/figures/overlap.svg" || fail "overlap.svg lacks the panel K = $k"
    done
    [ "$(grep -c '>j (test sets)</tspan>' "$d/figures/overlap.svg")" -eq "$ks" ]
    [ "$(grep -c '>neurons</tspan>' "$d/figures/overlap.svg")" -eq "$ks" ]
    [ "$(grep -c '>observed</tspan>' "$d/figures/overlap.svg")" -eq 1 ]
    sh "$ROOT/pipelines/study-figures.sh" "$d"
    for f in ssim overlap; do
        [ "$(head -c 8 "$d/figures/$f.png" | od -An -t x1 | tr -d ' ')" = 89504e470d0a1a0a ]
        w=$(od -An -j16 -N4 -t u1 "$d/figures/$f.png" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
        [ "$w" -le 900 ] || fail "$f.png is $w px wide"
    done
}

@test "figures: ten groups (paper profile, demo with XceptionNet) and four Ks read without overlaps" {
    fake_run paper "meso4 mesoinception4 shallownet xception efficientnet-b0" "64 128 256 512"
    check_figures paper 10 4
}

@test "figures: the test profile's two groups and two Ks, and a single K" {
    fake_run small "meso4 shallownet" "64 128"
    check_figures small 4 2
    fake_run one "meso4" "64"
    sed -i '/^128\t/d' one/rq4/overlap5.tsv
    check_figures one 2 1
}

@test "figures: the overlap check flags the horizontal labels ten groups ran together" {
    fake_run paper "meso4 mesoinception4 shallownet xception efficientnet-b0" "64"
    awk -F'\t' 'NR > 1 && $3 == ">=0.9" { print $1 "\t" $5 }' paper/rq3/ssim-hist.tsv | sort -u > g.dat
    # ssim.png's settings before its labels were slanted
    gnuplot <<'GP'
set terminal svg size 1000,420 font ",10"
set output "old.svg"
set style data histogram
set style histogram cluster gap 1
set xtics nomirror
plot "g.dat" using 2:xtic(1) title "a", '' using 2 title "b", '' using 2 title "c"
GP
    run python3 "$ROOT/tests/svg_text_overlap.py" old.svg
    assert_failure
    assert_output --partial "'MesoInception1-3' overlaps 'MesoInception4-6'"
}
