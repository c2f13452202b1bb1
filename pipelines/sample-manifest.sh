#!/bin/bash
# sample-manifest.sh: a seeded, label-balanced sample of a video manifest's videos, so that the
# paper profile decodes only the videos it needs (10 frames of every Celeb-DF v2 training video
# would be ~56,000 crops, 11 GB as a stream, for a set of 16,000 images).
set -u
export LC_ALL=C
me=sample-manifest.sh

usage() {
    cat <<'USAGE'
usage: pipelines/sample-manifest.sh MANIFEST --images N --frames F [--real-frames FR] [--seed S]
           [--exclude M2]... [--exclude-source M2]... [--exclude-identity M2]... [--stats FILE]

Print on stdout the header of MANIFEST (formats/video-manifest.md) and a sample of its videos:
k real and k fake videos, k = ceil(1.25 * N / (2 * F)), enough to give N images with F frames
per video, half real (real videos: F = FR when --real-frames is given), with a quarter to spare for frames crop finds no face in (the set is
then cut to N images by pack --balance --take). A label with fewer videos is taken whole (said
on stderr). The sample is a seeded shuffle (sort -R with a random source made from the seed),
kept in manifest order; the same seed and manifest give the same lines.

  --images N     images wanted from the sample (half real, half fake)
  --frames F     frames that will be taken per video
  --seed S       seed of the shuffle (default 1)
  --real-frames FR  frames that will be taken per real video (default F)
  --exclude M2   leave out the videos whose path is listed in manifest M2 (repeatable): keeps
                 a training sample from sharing videos with a test set drawn from the same pool
  --exclude-source M2
                 leave out the videos made from a source video of M2's videos (repeatable).
                 The source of a video id PREFIX/STEM: FaceForensics++ (prefixes f2f, fs, nt,
                 df, fs-i, nt-i): a real id is itself, a fake A_B is the pair {A, B}, so B_A
                 goes with A_B; Celeb-DF v1/v2 (celeb, celeb-m): a real idX_NNNN or YouTube
                 NNNNN is itself, a fake idX_idY_NNNN is idX_NNNN, the real video it was made
                 from, so v1 and v2 videos that share a name or a source video match
  --exclude-identity M2
                 Celeb-DF only: leave out the videos that show a person of M2's videos (real
                 idX_*: person X; fake idX_idY_*: X and Y) (repeatable)
  --stats FILE   write what was left out and taken as "name<TAB>count" lines: listed,
                 excluded_path, excluded_source, excluded_identity, real_available,
                 fake_available, real_taken, fake_taken
  -h, --help     this help
USAGE
}

die() { echo "$me: $*" >&2; exit 1; }

manifest= images= frames= rframes= seed=1 stats= excludes=() xsrc=() xid=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --images|--frames|--real-frames|--seed|--exclude|--exclude-source|--exclude-identity|--stats)
            [ $# -ge 2 ] || die "$1 needs a value"
            case "$1" in
                --images) images=$2 ;; --frames) frames=$2 ;; --real-frames) rframes=$2 ;; --seed) seed=$2 ;;
                --stats) stats=$2 ;;
                --exclude) [ -f "$2" ] || die "$2: no such file"; excludes+=("$2") ;;
                --exclude-source) [ -f "$2" ] || die "$2: no such file"; xsrc+=("$2") ;;
                --exclude-identity) [ -f "$2" ] || die "$2: no such file"; xid+=("$2") ;;
            esac
            shift 2 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) [ -z "$manifest" ] || die "unexpected argument '$1' (see --help)"; manifest=$1; shift ;;
    esac
done
[ -n "$manifest" ] || die "no MANIFEST given (see --help)"
[ -f "$manifest" ] || die "$manifest: no such file"
[ -n "$rframes" ] || rframes=$frames
for v in "$images" "$frames" "$rframes"; do
    case "$v" in ''|*[!0-9]*|0) die "--images, --frames and --real-frames need positive whole numbers" ;; esac
done
case "$seed" in ''|*[!0-9]*) die "--seed: '$seed' is not a whole number" ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sample-manifest.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT
# sort -R salts its hash with bytes of the random source: a fixed stream per seed (hashes of the
# seed, different from the first byte on) makes it repeatable
for i in $(seq 1 64); do printf 'dfstudy %s %s\n' "$seed" "$i" | sha256sum; done > "$tmp/random"

# The source and persons of a video id (--exclude-source, --exclude-identity); see --help.
keys_awk='
    function family(id,   p) { p = id; sub(/\/.*/, "", p)
        if (p ~ /^(f2f|fs|nt|df|fs-i|nt-i)$/) return "ff"
        if (p ~ /^celeb(-m)?$/) return "celeb"
        return p }
    function stem_of(id,   s) { s = id; sub(/.*\//, "", s); return s }
    function source(id,   f, s, q) { f = family(id); s = stem_of(id)
        if (f == "ff" && s ~ /^[0-9]+_[0-9]+$/) { split(s, q, "_"); return f ":" (q[1] < q[2] ? q[1] "_" q[2] : q[2] "_" q[1]) }
        if (f == "celeb" && s ~ /^id[0-9]+_id[0-9]+_[0-9]+$/) { split(s, q, "_"); return f ":" q[1] "_" q[3] }
        return f ":" s }
    function persons(id, out,   s, q, n) { n = 0; delete out
        if (family(id) != "celeb") return 0
        s = stem_of(id)
        if (s ~ /^id[0-9]+_id[0-9]+_/) { split(s, q, "_"); out[q[1]] = 1; out[q[2]] = 1; return 2 }
        if (s ~ /^id[0-9]+_/) { split(s, q, "_"); out[q[1]] = 1; return 1 }
        return 0 }'

# the video ids of an exclusion manifest (column video), one per line
ids_of() {
    awk -F'\t' -v me="$me" -v m="$1" '{ sub(/\r$/, "") } /^#/ || /^$/ { next }
        !h { h = 1; for (i = 1; i <= NF; i++) c[$i] = i
             if (!("video" in c)) { print me ": " m ": the header must name video" > "/dev/stderr"; exit 1 }; next }
        { print $(c["video"]) }' "$1"
}
: > "$tmp/xsrc"; : > "$tmp/xid"
for m in ${xsrc[@]+"${xsrc[@]}"}; do ids_of "$m" >> "$tmp/xsrc" || exit 1; done
for m in ${xid[@]+"${xid[@]}"}; do ids_of "$m" >> "$tmp/xid" || exit 1; done

# numbered lines (manifest order), without comments, blank lines and excluded videos
awk -F'\t' -v me="$me" -v m="$manifest" -v xsrcf="$tmp/xsrc" -v xidf="$tmp/xid" -v countf="$tmp/counts" "$keys_awk"'
    BEGIN {
        while ((getline id < xsrcf) > 0) xs[source(id)] = 1
        while ((getline id < xidf) > 0) { persons(id, p); for (q in p) xp[q] = 1 }
    }
    FILENAME != m { if (FNR > 1) ex[$1] = 1; next }
    { sub(/\r$/, "") }
    /^#/ || /^$/ { next }
    !hdr { hdr = $0; for (i = 1; i <= NF; i++) col[$i] = i
           if (!("path" in col) || !("label" in col)) { print me ": " m ": the header must name path and label" > "/dev/stderr"; exit 1 }
           print hdr > "'"$tmp/header"'"; next }
    { listed++ }
    ($(col["path"]) in ex) { npath++; next }
    ("video" in col) && (source($(col["video"])) in xs) { nsrc++; next }
    ("video" in col) && persons($(col["video"]), p) { hit = 0; for (q in p) if (q in xp) hit = 1; if (hit) { nid++; next } }
    { l = $(col["label"]); if (l != "real" && l != "fake") { print me ": " m ": line " FNR ": label is not real or fake" > "/dev/stderr"; exit 1 }
      print FNR "\t" l "\t" $0 }
    END { printf "listed\t%d\nexcluded_path\t%d\nexcluded_source\t%d\nexcluded_identity\t%d\n", listed, npath, nsrc, nid > countf }' \
    ${excludes[@]+"${excludes[@]}"} "$manifest" > "$tmp/lines" || exit 1
[ -s "$tmp/header" ] || die "$manifest: no header line"

for l in real fake; do
    f=$frames; [ $l = fake ] || f=$rframes
    k=$(( (5 * images + 8 * f - 1) / (8 * f) ))
    awk -F'\t' -v l=$l '$2 == l' "$tmp/lines" | sort -R --random-source="$tmp/random" > "$tmp/$l"
    n=$(wc -l < "$tmp/$l")
    [ "$n" -ge "$k" ] || echo "$me: $manifest: $n $l videos, fewer than the $k wanted: taking all" >&2
    head -n "$k" "$tmp/$l" >> "$tmp/picked"
    printf '%s_available\t%d\n%s_taken\t%d\n' $l "$n" $l $(( n < k ? n : k )) >> "$tmp/counts"
done
if [ -n "$stats" ]; then
    { cp "$tmp/counts" "$stats.tmp" && mv -f "$stats.tmp" "$stats"; } || die "$stats: cannot write"
fi
cat "$tmp/header"
sort -t"$(printf '\t')" -k1,1n "$tmp/picked" | cut -f3-
