#!/bin/bash
# leak-check.sh: no test image of a study run may be an image a detector trained or validated on.
set -u
set -o pipefail
export LC_ALL=C
me=leak-check.sh
here=$(cd "$(dirname "$0")" && pwd)
bin=${DFS_BIN:-$here/../bin}

usage() {
    cat <<'USAGE'
usage: pipelines/leak-check.sh [--manifests DIR] [-o SIZES.tsv] [--list-leaks KEYS]
                               --train NAME=SET.dft... --test NAME=SET.dft...

Check that no image of a test set (--test, repeatable) is an image of a training or validation
set (--train, repeatable): the same frame of the same video file. An image is identified by its
source: the video file its key's video id names in a video manifest of DIR (every *.tsv there
with a header naming path and video: formats/video-manifest.md; the path made canonical, so a
file reached through two symbolic links is one file), and the frame number (its frame= metadata,
else the key's last component). A video id that no manifest names (synth data) is its own source.
Ids, not images, are compared: a test image is a leak when a training image has its source, even
where another method made the two fakes (the sets of one run are cut from the same crops).

Writes SIZES.tsv (default stdout): one line per set, "set<TAB>role<TAB>images<TAB>real<TAB>fake
<TAB>videos<TAB>leaks" (role train or test; leaks: the test set's images found in training sets).
When a test image leaks, every leak is listed on stderr as "leak<TAB>TEST-SET<TAB>KEY<TAB>
TRAIN-SET<TAB>KEY<TAB>SOURCE<TAB>FRAME", a summary line follows, SIZES.tsv is not written (or
written as SIZES.tsv.leaks when -o is given) and the exit status is 1. Other errors exit 2.

  --list-leaks KEYS  instead of failing, write the keys of the leaking test images to KEYS (one
                     per line; an empty file when none leaks) and exit 0: the list that
                     `pack --drop-keys KEYS` takes to build a test set without them
USAGE
}

die() { echo "$me: $*" >&2; exit 2; }

mdir= out= listf= sets=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --manifests|-o|--train|--test|--list-leaks)
            [ $# -ge 2 ] || die "$1 needs a value"
            case "$1" in
                --manifests) [ -d "$2" ] || die "$2: no such directory"; mdir=$2 ;;
                -o) out=$2 ;;
                --list-leaks) listf=$2 ;;
                *) case "$2" in *=*) ;; *) die "$1: '$2' is not NAME=SET.dft" ;; esac
                   [ -f "${2#*=}" ] || die "${2#*=}: no such file"
                   sets+=("${1#--}=$2") ;;
            esac
            shift 2 ;;
        *) die "unexpected argument '$1' (see --help)" ;;
    esac
done
[ ${#sets[@]} -gt 0 ] || die "no --train or --test sets given (see --help)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leak-check.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT

# video id -> path, from every video manifest of DIR
: > "$tmp/videos"
if [ -n "$mdir" ]; then
    for m in "$mdir"/*.tsv; do
        [ -f "$m" ] || continue
        awk -F'\t' '{ sub(/\r$/, "") } /^#/ || /^$/ { next }
            !h { h = 1; for (i = 1; i <= NF; i++) c[$i] = i; if (!("path" in c) || !("video" in c)) exit; next }
            { print $(c["video"]) "\t" $(c["path"]) }' "$m" >> "$tmp/videos" || die "$m: cannot read"
    done
fi
# canonical path of every listed file (a missing file keeps its path)
cut -f2 "$tmp/videos" | sort -u > "$tmp/paths"
if [ -s "$tmp/paths" ]; then
    tr '\n' '\0' < "$tmp/paths" | xargs -0 realpath -m -- > "$tmp/canon" || die "realpath failed"
    paste "$tmp/paths" "$tmp/canon" > "$tmp/pathmap"
else
    : > "$tmp/pathmap"
fi

# role, set, key, label, frame of every record
: > "$tmp/records"
: > "$tmp/setnames"
for s in "${sets[@]}"; do
    role=${s%%=*} rest=${s#*=}
    name=${rest%%=*} file=${rest#*=}
    printf '%s\t%s\n' "$role" "$name" >> "$tmp/setnames"
    "$bin/pack" --list --meta frame "$file" |
        awk -F'\t' -v r="$role" -v n="$name" '{ print r "\t" n "\t" $2 "\t" $3 "\t" $6 }' >> "$tmp/records" ||
        die "$file: cannot list its records"
done

awk -F'\t' -v me="$me" -v leaksf="$tmp/leaks" -v sizesf="$tmp/sizes" '
    FILENAME == ARGV[1] { canon[$1] = $2; next }
    FILENAME == ARGV[2] { path[$1] = $2; next }
    FILENAME == ARGV[3] { if (!($2 in n)) { order[++ns] = $2; roles[$2] = $1; n[$2] = 0 }; next }
    {
        role = $1; set = $2; key = $3; label = $4; frame = $5
        video = key; sub(/\/[^\/]*$/, "", video)
        if (frame == "-" || frame == "") { frame = key; sub(/.*\//, "", frame) }
        src = (video in path) ? canon[path[video]] : "video:" video
        n[set]++; lab[set, label]++
        if (!((set, video) in seen)) { seen[set, video] = 1; nv[set]++ }
        id = src "\t" frame
        if (role == "train") { if (!(id in first)) first[id] = set "\t" key; next }
        # test records come after every training record (the caller lists them so)
        if (id in first) { leak[set]++; nleak++; print "leak\t" set "\t" key "\t" first[id] "\t" id > leaksf }
    }
    END {
        for (i = 1; i <= ns; i++) {
            s = order[i]
            printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", s, roles[s], n[s], lab[s, "real"], lab[s, "fake"], nv[s], leak[s] > sizesf
        }
    }' "$tmp/pathmap" "$tmp/videos" "$tmp/setnames" <(grep '^train	' "$tmp/records"; grep '^test	' "$tmp/records") ||
    die "cannot compare the sets"

if [ -n "$listf" ]; then
    { touch "$tmp/leaks" && cut -f3 "$tmp/leaks" > "$listf.tmp" && mv -f "$listf.tmp" "$listf"; } || die "$listf: cannot write"
    : > "$tmp/leaks"
fi
{ printf 'set\trole\timages\treal\tfake\tvideos\tleaks\n'; cat "$tmp/sizes"; } > "$tmp/sizes.tsv"
if [ -s "$tmp/leaks" ]; then
    cat "$tmp/leaks" >&2
    total=$(wc -l < "$tmp/leaks")
    bysets=$(cut -f2 "$tmp/leaks" | uniq -c | awk '{ printf "%s%s: %s", (NR > 1 ? ", " : ""), $2, $1 }')
    echo "$me: $total test images are training or validation images (the same frame of the same video): $bysets" >&2
    [ -z "$out" ] || { cp "$tmp/sizes.tsv" "$out.leaks.tmp" && mv -f "$out.leaks.tmp" "$out.leaks"; } || die "$out.leaks: cannot write"
    exit 1
fi
if [ -n "$out" ]; then
    { cp "$tmp/sizes.tsv" "$out.tmp" && mv -f "$out.tmp" "$out"; } || die "$out: cannot write"
else
    cat "$tmp/sizes.tsv"
fi
