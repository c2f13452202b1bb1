#!/usr/bin/env bash
# Frames per second of frame-extract + crop on 2 cores, written to bench/extract-crop.md.
#   bench/extract-crop.sh [VIDEO...]     (default: opencv-doc's Megamind.avi, 8 times)
# Run from the repository root after `make`. Each video gives 10 frames (the study's setting);
# both tools use 2 workers and are pinned to 2 cores when taskset is available.
set -euo pipefail
cd "$(dirname "$0")/.."
videos=("$@")
if [ ${#videos[@]} -eq 0 ]; then
    m=/usr/share/doc/opencv-doc/examples/data/Megamind.avi
    [ -f "$m" ] || { echo "extract-crop.sh: $m missing (opencv-doc); give videos" >&2; exit 1; }
    videos=("$m" "$m" "$m" "$m" "$m" "$m" "$m" "$m")
fi
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0,1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
run() {   # seconds taken by the command, best of 3 (the machine is shared)
    local best="" t0 t1 t
    for _ in 1 2 3; do
        t0=$(now); "$@"; t1=$(now)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}
n=${#videos[@]}
t_ext=$(run "${pin[@]}" bin/frame-extract -n 10 -j 2 -o "$tmp/f.dft" "${videos[@]}")
frames=$(grep -a -c -o 'frame=[0-9]*' "$tmp/f.dft")
t_crop=$(run "${pin[@]}" bin/crop -j 2 -o "$tmp/c.dft" "$tmp/f.dft" 2>/dev/null)
t_both=$(run sh -c "${pin[*]} bin/frame-extract -n 10 -j 2 $(printf '%q ' "${videos[@]}") | ${pin[*]} bin/crop -j 2 > $tmp/p.dft 2>/dev/null")
faces=$(grep -a -c -o 'box=[0-9]' "$tmp/p.dft")
t_load=$(run "${pin[@]}" bin/crop --boxes /dev/null -o "$tmp/e.dft" /dev/null)
f() { printf '%.3f' "$1"; }
{
    echo "# frame-extract + crop throughput"
    echo
    echo "Written by \`bench/extract-crop.sh\` on $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))."
    echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); pinned to 2 cores: ${pin[*]:-no (taskset missing)};"
    echo "load average when run: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; best of 3 runs)."
    echo
    echo "Input: $n videos ($(basename "${videos[0]}")$( [ "$n" -gt 1 ] && echo ', ...')), 10 frames each: $frames frames, $faces faces cropped to 256x256."
    echo
    echo "| step | command | seconds | frames/s | s/video |"
    echo "|---|---|---|---|---|"
    echo "| extract | \`frame-extract -n 10 -j 2 VIDEOS\` | $(f "$t_ext") | $(f "$(echo "$frames / $t_ext" | bc -l)") | $(f "$(echo "$t_ext / $n" | bc -l)") |"
    echo "| crop | \`crop -j 2 frames.dft\` | $(f "$t_crop") | $(f "$(echo "$frames / $t_crop" | bc -l)") | $(f "$(echo "$t_crop / $n" | bc -l)") |"
    echo "| both, piped | \`frame-extract -n 10 -j 2 VIDEOS \| crop -j 2\` | $(f "$t_both") | $(f "$(echo "$frames / $t_both" | bc -l)") | $(f "$(echo "$t_both / $n" | bc -l)") |"
    echo "| (crop start-up: reading both models) | \`crop --boxes /dev/null /dev/null\` | $(f "$t_load") | | |"
    echo
    echo "Crop time is mostly the Viola-Jones scan (OpenCV's exhaustive pyramid, step 1 above scale 2)."
} > bench/extract-crop.md
cat bench/extract-crop.md
