#!/bin/sh
# study-figures.sh RUNDIR: the report's figures with gnuplot, from the run's TSVs:
#   figures/ssim.png     RQ3 (the paper's Figure 3): share of fake images per mean-SSIM bin for
#                        each congenetic group, all test sets together
#   figures/overlap.png  RQ4 (Figure 5): neurons in the top K of exactly j of the study's five
#                        test sets (rq4/overlap5.tsv), observed
#                        against the chance baseline, one panel per K
# Each PNG is written to a temp name and renamed, so it appears whole or not at all.
# report.md embeds them at their pixel size; a Markdown viewer's text column is about 900 px
# wide and scales a wider picture down, so both stay within 900 px and keep a 10-point font.
# FIG_FORMAT=svg writes figures/*.svg instead, from the same settings (tests/85-figures.bats
# checks in them that no two texts overlap).
set -eu
R=$1
mkdir -p "$R/figures"
tmp="$R/figures/.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp"
fmt=${FIG_FORMAT:-png}
case $fmt in
png) term=pngcairo ;;
svg) term=svg ;;
*) echo "study-figures.sh: FIG_FORMAT '$fmt' is not png or svg" >&2; exit 2 ;;
esac

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
set terminal $term size 900,440 font ",10"
set output "$tmp/ssim.$fmt"
set title "RQ3: mean SSIM of congenetic models' Grad-CAM heatmaps on fake images (synthetic data)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set ylabel "% of images"
set yrange [0:105]
# the demo's ten groups side by side leave some 75 px per label, less than MesoInception4-6
# needs: slanted, neighbouring labels are a line's height apart instead of a label's width;
# the key sits above the bars so it never covers one
set xtics nomirror rotate by 30 right
set key outside top center horizontal
set bmargin 6
plot "$tmp/ssim.dat" using 2:xtic(1) title "SSIM < 0.7", '' using 3 title "0.7 <= SSIM < 0.9", '' using 4 title "SSIM >= 0.9"
GP
mv "$tmp/ssim.$fmt" "$R/figures/ssim.$fmt"

ks=$(awk -F'\t' 'NR > 1 && !($1 in s) { s[$1] = 1; printf "%s ", $1 }' "$R/rq4/overlap5.tsv")
nk=$(echo $ks | wc -w)
# panels two to a row (four side by side would need 1300 px), one key for all of them under
# the title, each panel's own title saying its K
cols=$(( nk < 2 ? nk : 2 ))
rows=$(( (nk + cols - 1) / cols ))
# in pixels: 120 above the first row of plots (two title lines, the key, a panel's title), 50
# below the last (tick labels and the x label), 260 per plot and 110 between rows (tick labels, x label, title)
# and 70 px left of each plot for its y label; one panel gets 520 px, room for the title
height=$(( 120 + 50 + 260 * rows + 110 * (rows - 1) ))
width=$(( cols == 1 ? 520 : 440 * cols ))
frac() { awk -v p="$1" -v h="$height" 'BEGIN { printf "%.4f", p / h }'; }
xfrac() { awk -v p="$1" -v w="$width" 'BEGIN { printf "%.4f", p / w }'; }
{
    echo "set terminal $term size $width,$height font \",10\""
    echo "set output \"$tmp/overlap.$fmt\""
    printf '%s\n' "set multiplot layout $rows,$cols title \"RQ4: neurons in the top K of exactly j of the five test sets\\nCELEB, FS, NT, DF, DFD: observed vs chance (synthetic data)\" margins $(xfrac 70),$(xfrac $((width - 20))),$(frac 50),$(frac $((height - 120))) spacing $(xfrac 90),$(frac 110)"
    echo "set style data histogram; set style histogram cluster gap 1; set style fill solid 0.8 border -1"
    echo "set xlabel \"j (test sets)\"; set ylabel \"neurons\"; set logscale y; set yrange [0.1:*]"
    first=1
    for k in $ks; do
        awk -F'\t' -v k="$k" 'NR > 1 && $1 == k { print $2 "\t" $3 "\t" $4 }' "$R/rq4/overlap5.tsv" > "$tmp/k$k.dat"
        if [ $first = 1 ]; then
            echo "set key at screen 0.5, screen $(frac $((height - 62))) center center horizontal"
            first=0
        else
            echo "unset key"
        fi
        echo "set title \"K = $k\""
        echo "plot \"$tmp/k$k.dat\" using (\$2 > 0 ? \$2 : 0.1):xtic(1) title \"observed\", '' using (\$3 > 0.1 ? \$3 : 0.1) title \"chance\""
    done
    echo "unset multiplot"
} | gnuplot
mv "$tmp/overlap.$fmt" "$R/figures/overlap.$fmt"
