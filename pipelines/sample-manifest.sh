#!/bin/bash
# sample-manifest.sh: a seeded, label-balanced sample of a video manifest's videos, so that the
# paper profile decodes only the videos it needs (10 frames of every Celeb-DF v2 training video
# would be ~56,000 crops, 11 GB as a stream, for a set of 16,000 images).
set -u
export LC_ALL=C
me=sample-manifest.sh

usage() {
    cat <<'USAGE'
usage: pipelines/sample-manifest.sh MANIFEST --images N --frames F [--seed S] [--exclude M2]...

Print on stdout the header of MANIFEST (formats/video-manifest.md) and a sample of its videos:
k real and k fake videos, k = ceil(1.25 * N / (2 * F)), enough to give N images with F frames
per video, half real, with a quarter to spare for frames crop finds no face in (the set is
then cut to N images by pack --balance --take). A label with fewer videos is taken whole (said
on stderr). The sample is a seeded shuffle (sort -R with a random source made from the seed),
kept in manifest order; the same seed and manifest give the same lines.

  --images N     images wanted from the sample (half real, half fake)
  --frames F     frames that will be taken per video
  --seed S       seed of the shuffle (default 1)
  --exclude M2   leave out the videos whose path is listed in manifest M2 (repeatable): keeps
                 a training sample from sharing videos with a test set drawn from the same pool
  -h, --help     this help
USAGE
}

die() { echo "$me: $*" >&2; exit 1; }

manifest= images= frames= seed=1 excludes=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --images|--frames|--seed|--exclude)
            [ $# -ge 2 ] || die "$1 needs a value"
            case "$1" in
                --images) images=$2 ;; --frames) frames=$2 ;; --seed) seed=$2 ;;
                --exclude) [ -f "$2" ] || die "$2: no such file"; excludes+=("$2") ;;
            esac
            shift 2 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) [ -z "$manifest" ] || die "unexpected argument '$1' (see --help)"; manifest=$1; shift ;;
    esac
done
[ -n "$manifest" ] || die "no MANIFEST given (see --help)"
[ -f "$manifest" ] || die "$manifest: no such file"
for v in "$images" "$frames"; do
    case "$v" in ''|*[!0-9]*|0) die "--images and --frames need positive whole numbers" ;; esac
done
case "$seed" in ''|*[!0-9]*) die "--seed: '$seed' is not a whole number" ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sample-manifest.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT
# sort -R salts its hash with bytes of the random source: a fixed stream per seed (hashes of the
# seed, different from the first byte on) makes it repeatable
for i in $(seq 1 64); do printf 'dfstudy %s %s\n' "$seed" "$i" | sha256sum; done > "$tmp/random"

# numbered lines (manifest order), without comments, blank lines and excluded paths
awk -F'\t' -v me="$me" -v m="$manifest" '
    FILENAME != m { if (FNR > 1) ex[$1] = 1; next }
    { sub(/\r$/, "") }
    /^#/ || /^$/ { next }
    !hdr { hdr = $0; for (i = 1; i <= NF; i++) col[$i] = i
           if (!("path" in col) || !("label" in col)) { print me ": " m ": the header must name path and label" > "/dev/stderr"; exit 1 }
           print hdr > "'"$tmp/header"'"; next }
    ($(col["path"]) in ex) { next }
    { l = $(col["label"]); if (l != "real" && l != "fake") { print me ": " m ": line " FNR ": label is not real or fake" > "/dev/stderr"; exit 1 }
      print FNR "\t" l "\t" $0 }' "${excludes[@]}" "$manifest" > "$tmp/lines" || exit 1
[ -s "$tmp/header" ] || die "$manifest: no header line"

k=$(( (5 * images + 8 * frames - 1) / (8 * frames) ))
for l in real fake; do
    awk -F'\t' -v l=$l '$2 == l' "$tmp/lines" | sort -R --random-source="$tmp/random" > "$tmp/$l"
    n=$(wc -l < "$tmp/$l")
    [ "$n" -ge "$k" ] || echo "$me: $manifest: $n $l videos, fewer than the $k wanted: taking all" >&2
    head -n "$k" "$tmp/$l" >> "$tmp/picked"
done
cat "$tmp/header"
sort -t"$(printf '\t')" -k1,1n "$tmp/picked" | cut -f3-
