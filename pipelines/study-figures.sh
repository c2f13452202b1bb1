#!/bin/sh
# study-figures.sh RUNDIR: the report's figures with gnuplot, from the run's TSVs:
#   figures/ssim.png     RQ3 (the paper's Figure 3): share of fake images per mean-SSIM bin for
#                        each congenetic group, all test sets together
#   figures/overlap.png  RQ4 (Figure 5): neurons in the top K of exactly j of the study's five
#                        test sets (rq4/overlap5.tsv), observed
#                        against the chance baseline, one panel per K
# Each PNG is written to a temp name and renamed, so it appears whole or not at all.
set -eu
R=$1
mkdir -p "$R/figures"
tmp="$R/figures/.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp"

# group  <0.7  0.7-0.9  >=0.9   (percent of the group's images)
awk -F'\t' 'NR > 1 && $3 != "total" {
        if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
        c[$1, $3] += $4; tot[$1] += $4
    }
    END {
        for (i = 1; i <= n; i++) {
            g = order[i]; t = tot[g] ? tot[g] : 1
            printf "%s\t%.2f\t%.2f\t%.2f\n", g, 100 * c[g, "<0.7"] / t, 100 * c[g, "0.7-<0.9"] / t, 100 * c[g, ">=0.9"] / t
        }
    }' "$R/rq3/ssim-hist.tsv" > "$tmp/ssim.dat"
gnuplot <<GP
set terminal pngcairo size 1000,420 font ",10"
set output "$tmp/ssim.png"
set title "RQ3: mean SSIM of congenetic models' Grad-CAM heatmaps on fake images (synthetic data)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set ylabel "% of images"
set yrange [0:105]
set xtics nomirror
set key top right
plot "$tmp/ssim.dat" using 2:xtic(1) title "SSIM < 0.7", '' using 3 title "0.7 <= SSIM < 0.9", '' using 4 title "SSIM >= 0.9"
GP
mv "$tmp/ssim.png" "$R/figures/ssim.png"

ks=$(awk -F'\t' 'NR > 1 && !($1 in s) { s[$1] = 1; printf "%s ", $1 }' "$R/rq4/overlap5.tsv")
nk=$(echo $ks | wc -w)
{
    echo "set terminal pngcairo size $((320 * nk)),360 font \",10\""
    echo "set output \"$tmp/overlap.png\""
    echo "set multiplot layout 1,$nk title \"RQ4: neurons in the top K of exactly j of the five test sets CELEB, FS, NT, DF, DFD, observed vs chance (synthetic data)\""
    echo "set style data histogram; set style histogram cluster gap 1; set style fill solid 0.8 border -1"
    echo "set xlabel \"j\"; set logscale y; set yrange [0.1:*]"
    for k in $ks; do
        awk -F'\t' -v k="$k" 'NR > 1 && $1 == k { print $2 "\t" $3 "\t" $4 }' "$R/rq4/overlap5.tsv" > "$tmp/k$k.dat"
        echo "set title \"K = $k\""
        echo "plot \"$tmp/k$k.dat\" using (\$2 > 0 ? \$2 : 0.1):xtic(1) title \"observed\", '' using (\$3 > 0.1 ? \$3 : 0.1) title \"chance\""
    done
    echo "unset multiplot"
} | gnuplot
mv "$tmp/overlap.png" "$R/figures/overlap.png"
