#!/bin/bash
# manifest.sh: a dataset as distributed -> a video manifest (path, label, video, dataset) for
# extract-set.sh and pack --relabel. Format: formats/video-manifest.md. Plain bash + coreutils + awk.
set -u
export LC_ALL=C
me=manifest.sh

usage() {
    cat <<'USAGE'
usage: pipelines/manifest.sh KIND ROOT [--split train|val|test] [--method M]... [--relative]

Print a video manifest (formats/video-manifest.md) on stdout: a header line
"path<TAB>label<TAB>video<TAB>dataset", then one line per video, label real or fake, video the id
that frame keys will carry (<prefix>/<file stem>), dataset the study's name. Paths are absolute
(ROOT made absolute), or relative to ROOT with --relative. Lines are sorted: dataset by dataset,
real videos before fakes, names in byte order. Without --split, every video of every split.

KIND       layout under ROOT                                              video ids / dataset
ff++       original_sequences/youtube/c23/videos/*.mp4,                    f2f/ID, fs/ID, nt/ID, df/ID
           manipulated_sequences/{Face2Face,FaceSwap,NeuralTextures,       / F2F, FS, NT, DF
           Deepfakes}/c23/videos/*.mp4
celeb-v2   Celeb-real, YouTube-real, Celeb-synthesis (each *.mp4 directly   celeb/STEM / CELEB
           or in a videos/ subfolder), List_of_testing_videos.txt
celeb-v1   the same layout for Celeb-DF-v1                                 celeb-m/STEM / CELEB-M
dfd        original_sequences/actors/c23/videos,                           dfd/STEM / DFD
           manipulated_sequences/DeepFakeDetection/c23/videos
fs-i, nt-i the ff++ layout                                                 fs-i/ID, nt-i/ID / FS-I, NT-I

Splits
ff++       The official pair lists when ROOT/splits/{train,val,test}.json (or ROOT/*.json) exist:
           lists of pairs [a, b]; a split holds the real videos a and b and, per method, the fakes
           a_b and b_a. Without them: pairs are read off the fake names (a_b and b_a are one pair,
           each id in at most one pair; a real video in no pair is a unit of its own), units are
           sorted by their smaller id, and the first n - 2k go to train, the next k to val, the
           last k to test, k = round(0.14 n) (500 pairs: 360 / 70 / 70, as the official lists).
celeb-*    test = List_of_testing_videos.txt, lines "<label> <folder>/<file>.mp4", 1 = REAL,
           0 = fake (a label that contradicts the folder is an error). train and val are the
           other videos, split by identity: Celeb-real idX_NNNN is person X, Celeb-synthesis
           idX_idY_NNNN shows persons X and Y; persons with X mod 5 = 4 are val, the others
           train, and a fake whose two persons fall on different sides is left out (counted on
           stderr), so no person appears in both train and val. YouTube-real NNNNN (persons not
           named): val when NNNNN mod 5 = 4. The official test list shares persons with the rest
           of the dataset; that is not changed here.
dfd        No official split (the study tests on all of DFD): without --split every video. With
           --split, by actor: real AA__scene is actor AA, fake AA_BB__scene__code actors AA and
           BB; actor mod 5 = 3 is val, 4 test, else train; fakes whose actors fall in two splits
           are left out (counted on stderr).
fs-i/nt-i  FS (NT) videos whose persons are F2F's: the real videos a and the FaceSwap
           (NeuralTextures) fakes t_s whose target t AND source s are ids of F2F's split
           (--split, default train: F2F's training identities, what RQ2 asks about). Official
           pairs never straddle splits, so these are the FS (NT) videos of that split.

Options
  --split S    train, val or test (fs-i/nt-i: whose F2F identities; default train)
  --method M   ff++ only: F2F, FS, NT or DF (repeatable; default all four)
  --relative   paths relative to ROOT instead of absolute
  -h, --help   this help

Folders that are symbolic links are followed. Errors (one line on stderr, exit 1): a missing
ROOT or layout directory (named), a missing split or list file, a video listed in a split file
but missing on disk, a duplicate video id, no real or no fake video in the listing. A split
derived without ff++'s split files is announced on stderr by a line starting "WARNING:".
USAGE
}

die() { echo "$me: $*" >&2; exit 1; }
note() { echo "$me: $*" >&2; }

kind= root= split= relative=0 methods=
[ $# -ge 1 ] || { usage >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --split) [ $# -ge 2 ] || die "--split needs a value"
            case "$2" in train|val|test) split=$2 ;; *) die "--split: '$2' is not train, val or test" ;; esac
            shift 2 ;;
        --method) [ $# -ge 2 ] || die "--method needs a value"
            case "$2" in F2F|FS|NT|DF) methods="$methods $2" ;; *) die "--method: '$2' is not F2F, FS, NT or DF" ;; esac
            shift 2 ;;
        --relative) relative=1; shift ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) if [ -z "$kind" ]; then kind=$1
           elif [ -z "$root" ]; then root=$1
           else die "unexpected argument '$1' (see --help)"; fi
           shift ;;
    esac
done
case "$kind" in
    ff++|celeb-v2|celeb-v1|dfd|fs-i|nt-i) ;;
    '') die "no KIND given (ff++, celeb-v2, celeb-v1, dfd, fs-i, nt-i)" ;;
    *) die "unknown KIND '$kind' (ff++, celeb-v2, celeb-v1, dfd, fs-i, nt-i)" ;;
esac
[ -n "$root" ] || die "no ROOT given"
[ -d "$root" ] || die "$root: no such directory"
[ -z "$methods" ] || [ "$kind" = ff++ ] || die "--method applies to ff++ only"
root_abs=$(cd "$root" && pwd) || die "$root: cannot enter"
root_abs=${root_abs%/}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/manifest.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT

need_dir() { [ -d "$root_abs/$1" ] || die "$root_abs/$1: missing directory (see --help for the $kind layout)"; }

# stems DIR: the *.mp4 file names in DIR without .mp4, sorted
# (-H: a folder that is a symlink, a common way to spread datasets over disks, is followed)
stems() { find -H "$root_abs/$1" -maxdepth 1 \( -type f -o -type l \) -name '*.mp4' -printf '%f\n' | sed 's/\.mp4$//' | sort; }

# Lines collect in $tmp/out as: relpath label video dataset (tab-separated); checked and printed at the end.
: > "$tmp/out"

# ---- FaceForensics++ ----
# $tmp/pairs: "a<TAB>b<TAB>split" per pair (a singleton real video: b empty)
ff_pairs() {
    local sdir=
    if [ -d "$root_abs/splits" ]; then sdir=$root_abs/splits
    elif [ -f "$root_abs/train.json" ] || [ -f "$root_abs/test.json" ]; then sdir=$root_abs; fi
    : > "$tmp/pairs"
    if [ -n "$sdir" ]; then
        local s
        for s in train val test; do
            [ -f "$sdir/$s.json" ] || die "$sdir/$s.json: missing split file"
            # the files are lists of pairs of quoted ids: [["953", "974"], ...]
            grep -o '"[^"]*"' "$sdir/$s.json" | tr -d '"' | awk -v s="$s" -v f="$sdir/$s.json" -v me="$me" '
                { id[NR] = $0 }
                END {
                    if (NR % 2) { print me ": " f ": an odd number of ids (expected pairs)" > "/dev/stderr"; exit 1 }
                    for (i = 1; i <= NR; i += 2) print id[i] "\t" id[i + 1] "\t" s
                }' >> "$tmp/pairs" || exit 1
        done
    else
        [ -z "$split" ] && [ "$kind" = ff++ ] ||
            note "WARNING: $root_abs/splits/{train,val,test}.json missing (FaceForensics++'s download script does not fetch them): the split is derived from the fake names, not the official one (see --help)"
        local m
        : > "$tmp/fakes"
        for m in Deepfakes Face2Face FaceSwap NeuralTextures; do
            [ -d "$root_abs/manipulated_sequences/$m/c23/videos" ] && stems "manipulated_sequences/$m/c23/videos" >> "$tmp/fakes"
        done
        stems original_sequences/youtube/c23/videos > "$tmp/reals"
        awk -v me="$me" '
            FNR == NR {   # fakes a_b: the pair {a, b}
                n = split($0, p, "_")
                if (n != 2) { print me ": cannot derive a split: fake " $0 " is not named TARGET_SOURCE (give splits/)" > "/dev/stderr"; bad = 1; exit 1 }
                a = p[1] < p[2] ? p[1] : p[2]; b = p[1] < p[2] ? p[2] : p[1]
                for (k = 0; k < 2; k++) {
                    x = k ? b : a; y = k ? a : b
                    if ((x in mate) && mate[x] != y) { print me ": cannot derive a split: id " x " is in pairs with " mate[x] " and " y " (give splits/)" > "/dev/stderr"; bad = 1; exit 1 }
                    mate[x] = y
                }
                unit[a] = b
                next
            }
            { if (!($0 in mate)) unit[$0] = "" }
            END {
                if (bad) exit 1
                n = 0
                for (u in unit) key[++n] = u
                # insertion sort keeps this awk-portable; n is at most ~1000
                for (i = 2; i <= n; i++) { v = key[i]; for (j = i - 1; j >= 1 && key[j] > v; j--) key[j + 1] = key[j]; key[j + 1] = v }
                k = int(n * 14 / 100 + 0.5)
                for (i = 1; i <= n; i++) print key[i] "\t" unit[key[i]] "\t" (i <= n - 2 * k ? "train" : i <= n - k ? "val" : "test")
            }' "$tmp/fakes" "$tmp/reals" > "$tmp/pairs" || exit 1
    fi
}

# ff_emit METHOD_DIR PREFIX DATASET SPLIT: real videos and fakes of SPLIT's pairs (all splits when empty)
ff_emit() {
    local mdir=$1 prefix=$2 name=$3 want=$4
    awk -F'\t' -v want="$want" '$3 == want || want == "" { print $1; if ($2 != "") print $2 }' "$tmp/pairs" | sort -u |
        awk -v p="$prefix" -v d="$name" '{ print "original_sequences/youtube/c23/videos/" $0 ".mp4\treal\t" p "/" $0 "\t" d }' >> "$tmp/out"
    awk -F'\t' -v want="$want" '($3 == want || want == "") && $2 != "" { print $1 "_" $2; print $2 "_" $1 }' "$tmp/pairs" | sort -u |
        awk -v m="$mdir" -v p="$prefix" -v d="$name" '{ print "manipulated_sequences/" m "/c23/videos/" $0 ".mp4\tfake\t" p "/" $0 "\t" d }' >> "$tmp/out"
}

ff_method_dir() { case $1 in F2F) echo Face2Face ;; FS) echo FaceSwap ;; NT) echo NeuralTextures ;; DF) echo Deepfakes ;; esac; }
ff_prefix() { case $1 in F2F) echo f2f ;; FS) echo fs ;; NT) echo nt ;; DF) echo df ;; FS-I) echo fs-i ;; NT-I) echo nt-i ;; esac; }

# ---- Celeb-DF v1/v2 ----
celeb_folder() {   # the directory of a folder's videos, relative to ROOT
    if [ -d "$root_abs/$1/videos" ]; then echo "$1/videos"; else need_dir "$1"; echo "$1"; fi
}

celeb() {
    local prefix=$1 name=$2 list=$root_abs/List_of_testing_videos.txt f
    [ -f "$list" ] || die "$list: missing test list"
    : > "$tmp/all"
    for f in Celeb-real YouTube-real Celeb-synthesis; do
        local d
        d=$(celeb_folder "$f") || exit 1
        stems "$d" | awk -v f="$f" -v d="$d" '{ print f "\t" d "\t" $0 }' >> "$tmp/all"
    done
    # label 1 = real, 0 = fake (the list's convention, which several parsers get backwards)
    awk -v me="$me" -v list="$list" '
        { sub(/\r$/, "") }
        NF == 0 { next }
        {
            if (NF != 2 || ($1 != "0" && $1 != "1") || $2 !~ /^[^\/]+\/[^\/]+\.mp4$/) {
                print me ": " list ": line " FNR ": expected \"<0|1> <folder>/<file>.mp4\"" > "/dev/stderr"; exit 1
            }
            split($2, p, "/"); stem = p[2]; sub(/\.mp4$/, "", stem)
            real = p[1] == "Celeb-real" || p[1] == "YouTube-real"
            if (p[1] != "Celeb-synthesis" && !real) { print me ": " list ": line " FNR ": unknown folder " p[1] > "/dev/stderr"; exit 1 }
            if (($1 == "1") != real) {
                print me ": " list ": line " FNR ": label " $1 " (" ($1 == "1" ? "real" : "fake") ") contradicts folder " p[1] " (1 means real)" > "/dev/stderr"; exit 1
            }
            print p[1] "\t" stem
        }' "$list" > "$tmp/test" || exit 1
    awk -F'\t' -v want="$split" -v p="$prefix" -v d="$name" -v me="$me" -v list="$list" -v droppedf="$tmp/dropped" '
        FNR == NR { test[$1 "/" $2] = 1; ntest++; next }
        function side(x) { return x % 5 == 4 ? "val" : "train" }
        {
            folder = $1; dir = $2; stem = $3
            if (folder "/" stem in test) { s = "test"; seen[folder "/" stem] = 1 }
            else if (folder == "YouTube-real") s = side(stem + 0)
            else if (match(stem, /^id[0-9]+_id[0-9]+_/)) {
                split(stem, q, "_"); a = substr(q[1], 3) + 0; b = substr(q[2], 3) + 0
                s = side(a); if (side(b) != s) { if (want != "test") dropped++; next }
            } else if (match(stem, /^id[0-9]+_/)) { split(stem, q, "_"); s = side(substr(q[1], 3) + 0) }
            else s = side(0)
            if (want != "" && s != want) next
            print dir "/" stem ".mp4\t" (folder == "Celeb-synthesis" ? "fake" : "real") "\t" p "/" stem "\t" d
        }
        END {
            for (t in test) if (!(t in seen)) { print me ": " list " names " t ".mp4, which is missing" > "/dev/stderr"; exit 1 }
            print dropped + 0 > droppedf
        }' "$tmp/test" "$tmp/all" > "$tmp/celeb" || exit 1
    # real before fake, then by name
    awk -F'\t' '$2 == "real"' "$tmp/celeb" | sort -t"$(printf '\t')" -k3,3 >> "$tmp/out"
    awk -F'\t' '$2 == "fake"' "$tmp/celeb" | sort -t"$(printf '\t')" -k3,3 >> "$tmp/out"
    local dropped
    dropped=$(cat "$tmp/dropped")
    [ "$dropped" = 0 ] || note "left out $dropped fakes whose two persons fall in train and val"
}

# ---- DFD ----
dfd() {
    local rdir=original_sequences/actors/c23/videos fdir=manipulated_sequences/DeepFakeDetection/c23/videos
    need_dir "$rdir"; need_dir "$fdir"
    { stems "$rdir" | sed 's/^/real\t/'; stems "$fdir" | sed 's/^/fake\t/'; } |
    awk -F'\t' -v want="$split" -v rd="$rdir" -v fd="$fdir" -v droppedf="$tmp/dropped" '
        function side(x) { return x % 5 == 3 ? "val" : x % 5 == 4 ? "test" : "train" }
        {
            label = $1; stem = $2; actors = stem; sub(/__.*/, "", actors)
            n = split(actors, a, "_"); s = side(a[1] + 0)
            if (want != "") {
                if (n > 1 && side(a[2] + 0) != s) { dropped++; next }
                if (s != want) next
            }
            print (label == "real" ? rd : fd) "/" stem ".mp4\t" label "\tdfd/" stem "\tDFD"
        }
        END { print dropped + 0 > droppedf }' >> "$tmp/out"
    local dropped
    dropped=$(cat "$tmp/dropped")
    [ "$dropped" = 0 ] || note "left out $dropped fakes whose two actors fall in different splits"
}

case "$kind" in
    ff++|fs-i|nt-i)
        need_dir original_sequences/youtube/c23/videos
        if [ "$kind" = ff++ ]; then
            [ -n "$methods" ] || methods="F2F FS NT DF"
            for m in $methods; do need_dir "manipulated_sequences/$(ff_method_dir "$m")/c23/videos"; done
            ff_pairs
            for m in $methods; do ff_emit "$(ff_method_dir "$m")" "$(ff_prefix "$m")" "$m" "$split"; done
        else
            if [ "$kind" = fs-i ]; then m=FaceSwap name=FS-I; else m=NeuralTextures name=NT-I; fi
            need_dir "manipulated_sequences/$m/c23/videos"
            ff_pairs
            # pairs of F2F's split: both ids are that split's identities (pairs never straddle splits)
            ff_emit "$m" "$(ff_prefix $name)" "$name" "${split:-train}"
        fi ;;
    celeb-v2) celeb celeb CELEB ;;
    celeb-v1) celeb celeb-m CELEB-M ;;
    dfd) dfd ;;
esac

# every listed video exists, and a video id is listed once
missing=$(awk -F'\t' '{ print $1 }' "$tmp/out" | while IFS= read -r p; do [ -e "$root_abs/$p" ] || echo "$p"; done)
if [ -n "$missing" ]; then
    n=$(printf '%s\n' "$missing" | wc -l)
    die "$root_abs/$(printf '%s\n' "$missing" | head -n1): listed but missing ($n videos missing in all)"
fi
dup=$(awk -F'\t' '{ print $3 }' "$tmp/out" | sort | uniq -d | head -n1)
[ -z "$dup" ] || die "video id '$dup' would be listed twice (two files with one name)"
# an empty side is a wrong tree (an unmounted disk, a folder not followed), never a usable set
for l in real fake; do
    awk -F'\t' -v l="$l" '$2 == l { found = 1; exit } END { exit !found }' "$tmp/out" ||
        die "$root_abs: no $l videos for $kind${split:+ --split $split}${methods:+ --method$methods} (see --help for the layout)"
done

printf 'path\tlabel\tvideo\tdataset\n'
if [ "$relative" = 1 ]; then cat "$tmp/out"; else awk -v r="$root_abs" '{ print r "/" $0 }' "$tmp/out"; fi
