#!/bin/bash
# extract-set.sh: video manifest -> labelled face-crop stream (frame-extract | crop | pack --relabel).
set -u
set -o pipefail
export LC_ALL=C
me=extract-set.sh
here=$(cd "$(dirname "$0")" && pwd)
bin=${DFS_BIN:-$here/../bin}

usage() {
    cat <<'USAGE'
usage: pipelines/extract-set.sh MANIFEST OUT.dft [-n 10] [--size 256] [--jobs N]
                                [--root DIR] [--detector hog|haar] [--min-face PX] [--min-neighbors N]
                                [--no-crop]

Turn the videos of a video manifest (formats/video-manifest.md, as pipelines/manifest.sh writes
it) into one tensor stream of face crops: for each video N evenly spaced frames (frame-extract),
the largest face aligned and cropped to SIZE x SIZE (crop), then each record's label and
dataset= set from the manifest line of its video (pack --relabel). Records carry
key=<video>/fNN (the manifest's video id, then the frame's rank), label 0 real / 1 fake, the
manifest's dataset=, and frame-extract's and crop's metadata (frame=, time=, box=, landmarks=).
Output order: videos grouped by key prefix (the video id without its last component) in the
order the prefixes first appear, manifest order within a group; frames in order.

A video id must end in the video file's name without extension (manifest.sh's ids do): that
is the key frame-extract gives its frames. Relative paths are relative to --root DIR, by default
the manifest's directory (as for pack's PNG manifests). A video that appears under two ids (FF++
real videos are listed once per method) is decoded once per id.

options:
  -n, --frames N    frames per video (default 10)
      --size N      crop side in pixels (default 256); with --no-crop, frames are resized to
                    N x N by pack --size (the aspect ratio is not kept)
  -j, --jobs N      videos decoded and frames cropped in parallel (default 1)
      --root DIR    resolve relative manifest paths against DIR
      --detector D  crop's face detector: hog (dlib's, as the study) or haar (crop's default)
      --min-face PX smallest face crop searches for (crop's --min-face; default crop's 40)
      --min-neighbors N  detections a face needs (crop's --min-neighbors; default crop's):
                    higher keeps fewer non-faces on cluttered backgrounds
      --no-crop     skip face detection and cropping (for frames that are already faces)
  -h, --help        this help

OUT.dft appears whole or not at all. Frames without a face are left out (crop lists them on
stderr). A video that cannot be decoded is reported by frame-extract and skipped; then OUT.dft
holds the other videos' frames and the exit status is 2. Other errors exit 1 and leave no OUT.
USAGE
}

die() { echo "$me: $*" >&2; exit 1; }

manifest= out= frames=10 size=256 jobs=1 root= minface= minnb= detector= crop=1
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        -n|--frames) [ $# -ge 2 ] || die "$1 needs a value"; frames=$2; shift 2 ;;
        --size) [ $# -ge 2 ] || die "$1 needs a value"; size=$2; shift 2 ;;
        -j|--jobs) [ $# -ge 2 ] || die "$1 needs a value"; jobs=$2; shift 2 ;;
        --root) [ $# -ge 2 ] || die "$1 needs a value"; root=$2; shift 2 ;;
        --min-face) [ $# -ge 2 ] || die "$1 needs a value"; minface=$2; shift 2 ;;
        --detector) [ $# -ge 2 ] || die "$1 needs a value"; detector=$2; shift 2 ;;
        --min-neighbors) [ $# -ge 2 ] || die "$1 needs a value"; minnb=$2; shift 2 ;;
        --no-crop) crop=0; shift ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) if [ -z "$manifest" ]; then manifest=$1
           elif [ -z "$out" ]; then out=$1
           else die "unexpected argument '$1' (see --help)"; fi
           shift ;;
    esac
done
[ -n "$manifest" ] && [ -n "$out" ] || die "usage: extract-set.sh MANIFEST OUT.dft [options] (see --help)"
for v in "$frames" "$size" "$jobs" ${minface:+"$minface"} ${minnb:+"$minnb"}; do
    case "$v" in ''|*[!0-9]*|0) die "'$v' is not a positive whole number" ;; esac
done
[ -f "$manifest" ] || die "$manifest: no such file"
[ -n "$root" ] || root=$(dirname "$manifest")
[ -d "$root" ] || die "$root: no such directory"
outdir=$(dirname "$out")
[ -d "$outdir" ] || die "$outdir: no such directory"

tmp=$(mktemp -d "$outdir/.extract-set.tmp.XXXXXX") || die "$outdir: cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT

# The plan: one line per video, "prefix<TAB>path", checked against the header and the id rule.
awk -F'\t' -v me="$me" -v m="$manifest" -v root="$root" '
    function fail(msg) { print me ": " m ": line " FNR ": " msg > "/dev/stderr"; bad = 1; exit 1 }
    { sub(/\r$/, "") }
    /^#/ || /^$/ { next }
    !ncols {
        for (i = 1; i <= NF; i++) col[$i] = i
        if (!("path" in col) || !("video" in col) || !("label" in col)) fail("the header must name the columns path, label and video")
        ncols = NF; next
    }
    {
        if (NF != ncols) fail("expected " ncols " fields, got " NF)
        p = $(col["path"]); v = $(col["video"])
        n = split(v, parts, "/")
        if (n < 2) fail("video id '\''" v "'\'' has no prefix (expected PREFIX/STEM)")
        stem = p; sub(/.*\//, "", stem); sub(/\.[^.]*$/, "", stem)
        if (parts[n] != stem) fail("video id '\''" v "'\'' does not end in the file name " stem)
        prefix = substr(v, 1, length(v) - length(stem) - 1)
        if (p !~ /^\//) p = root "/" p
        print prefix "\t" p
    }
    END { if (!bad && !ncols) { print me ": " m ": no header line" > "/dev/stderr"; exit 1 } }' "$manifest" > "$tmp/plan" || exit 1
[ -s "$tmp/plan" ] || die "$manifest: lists no videos"
# a missing file is a wrong path or --root, not a broken video: stop before decoding anything
while IFS=$'\t' read -r _ path; do
    [ -f "$path" ] || die "$path: no such file (relative paths resolve against --root, default the manifest's directory)"
done < "$tmp/plan"

# frame-extract per prefix (its --dataset is the key prefix), in first-appearance order.
# Its exit status 2 (some videos skipped) is kept in a file, as the pipeline loses it.
extract() {
    local prefix status=0 rc paths
    awk -F'\t' '!seen[$1]++ { print $1 }' "$tmp/plan" > "$tmp/prefixes"
    while IFS= read -r prefix; do
        mapfile -t paths < <(awk -F'\t' -v p="$prefix" '$1 == p { print $2 }' "$tmp/plan")
        "$bin/frame-extract" -n "$frames" -j "$jobs" --dataset "$prefix" "${paths[@]}"
        rc=$?
        case $rc in 0) ;; 2) status=2 ;; *) return 1 ;; esac
    done < "$tmp/prefixes"
    echo $status > "$tmp/extract-status"
}

if [ "$crop" = 1 ]; then
    extract | "$bin/crop" --size "$size" -j "$jobs" ${detector:+--detector "$detector"} ${minface:+--min-face "$minface"} ${minnb:+--min-neighbors "$minnb"} |
        "$bin/pack" --relabel "$manifest" -o "$tmp/out.dft" || exit 1
else
    extract | "$bin/pack" --relabel "$manifest" --size "$size" -o "$tmp/out.dft" || exit 1
fi
status=$(cat "$tmp/extract-status")
[ -s "$tmp/out.dft" ] || die "$manifest: no frames came out (no video decoded, or no face found)"
mv -f "$tmp/out.dft" "$out" || die "$out: cannot write"
exit "$status"
