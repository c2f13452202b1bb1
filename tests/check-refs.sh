#!/usr/bin/env bash
# tests/check-refs.sh [ROOT]: every repository file that the docs, the comments and the scripts
# name must exist, so a reader who follows a reference finds what it names.
#
# Scanned: README.md, docs/*.md, formats/*.md and bench/*.md (all their text, and their Markdown
# links resolved from the page's folder); the comments of Makefile, .ci/run and pipelines/**/*.mk;
# bench/*.sh, pipelines/*.sh and scripts/*.sh (all their text); the comments of the C and CUDA
# sources in lib/, bin/ and tests/unit/.
# A reference is a word that starts with one of the repository's top-level folders (lib/, bin/,
# tests/, bench/, formats/, scripts/, pipelines/, docs/, .ci/) and is not the tail of a longer
# path: a word preceded by '/', '.', '$', '}', ')' or a name character ("/usr/bin/time",
# "$BUILD/tests/test_cam", "tensorflow/compiler/tests/...") names something else.
# It exists when git tracks it (a file, or a folder holding tracked files). Allowed on purpose:
#   - build outputs: a path that .gitignore ignores (build/..., bench/gpu-latest.md), except under
#     bin/, where `bin/NAME` (the tool make builds) needs its source bin/NAME.c;
#   - templates: a word with '<', '{', '%' or '$' in it ("tests/fuzz/seeds/<target>/",
#     "lib/nn/{dense,conv}.c") is a pattern, not a file; a word with '*' must match a tracked
#     file; a path segment in capitals of three letters or more (bin/TOOL, tests/TEST) is a
#     placeholder;
#   - Markdown links that lead to ../shared/ (the study's material beside the repository, which
#     dfstudy reads but does not hold) and links to web addresses or anchors.
# Prints "FILE:LINE: PATH: no such file in the repository" for each miss; exits 1 if any.
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2

if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    tracked=$(git ls-files)
else
    tracked=$(find . -type f ! -path './.git/*' | sed 's|^\./||')
fi
declare -A have
while IFS= read -r f; do
    have[$f]=1
    d=$f
    while [[ $d == */* ]]; do d=${d%/*}; have[$d]=1; done
done <<< "$tracked"

# comments FILE KIND: "LINE<TAB>TEXT" for each line of FILE's comments (KIND sh: from a '#' that
# starts a word; c: /* ... */ and // comments), or of all its text (KIND all)
comments() {
    awk -v kind="$2" '
    kind == "all" { print NR "\t" $0; next }
    kind == "sh" { i = match($0, /(^|[ \t])#/); if (i) print NR "\t" substr($0, i); next }
    {   line = $0; out = ""
        while (line != "") {
            if (inc) {
                j = index(line, "*/")
                if (!j) { out = out line; line = ""; break }
                out = out substr(line, 1, j - 1); line = substr(line, j + 2); inc = 0
            } else {
                a = index(line, "/*"); b = index(line, "//")
                if (b && (!a || b < a)) { out = out substr(line, b + 2); line = ""; break }
                if (!a) break
                line = substr(line, a + 2); inc = 1
            }
        }
        if (out != "") print NR "\t" out
    }' "$1"
}

bad=0
miss() { echo "$1:$2: $3: no such file in the repository"; bad=1; }

check_word() { # FILE LINE WORD
    local f=$1 n=$2 w=$3 seg
    while [[ $w == *[.,:-] ]]; do w=${w%?}; done
    w=${w%/}
    [[ -z $w ]] && return
    [[ $w == *['<{%$']* ]] && return
    for seg in ${w//\// }; do [[ ${seg%%.*} =~ ^[A-Z_]{3,}$ ]] && return; done
    if [[ $w == *'*'* ]]; then
        local t
        # shellcheck disable=SC2053  # $w is the glob to match
        while IFS= read -r t; do [[ $t == $w ]] && return; done <<< "$tracked"
        miss "$f" "$n" "$w"; return
    fi
    [[ -n ${have[$w]:-} ]] && return
    if [[ $w == bin/* ]]; then
        [[ -n ${have[$w.c]:-} ]] && return
    elif git check-ignore -q --no-index "$w" 2> /dev/null; then
        return
    fi
    miss "$f" "$n" "$w"
}

check_link() { # FILE LINE TARGET, relative to FILE's folder
    local f=$1 n=$2 t=$3 dir p out=()
    t=${t%%#*}
    [[ -z $t || $t == *://* || $t == mailto:* ]] && return
    dir=$(dirname "$f"); [[ $dir == . ]] && p=$t || p=$dir/$t
    local IFS=/ seg
    for seg in $p; do
        case $seg in
        .|'') ;;
        ..) if [ ${#out[@]} -eq 0 ]; then out+=(..); elif [ "${out[-1]}" = .. ]; then out+=(..); else unset 'out[-1]'; fi ;;
        *) out+=("$seg") ;;
        esac
    done
    p="${out[*]}"
    [[ $p == ../shared || $p == ../shared/* ]] && return
    [[ $p == ../* ]] && { miss "$f" "$n" "$t (outside the repository)"; return; }
    [[ -n ${have[$p]:-} ]] || miss "$f" "$n" "$t"
}

# words FILE KIND: "LINE<TAB>WORD" for each reference-like word of FILE (see the top), and
# "LINE<TAB>](TARGET" for each Markdown link of a .md file scanned whole
words() {
    comments "$1" "$2" | awk -F'\t' -v md="$([ "$2" = all ] && [[ $1 == *.md ]] && echo 1)" '{
        n = $1; t = substr($0, length(n) + 2); s = t
        while (match(s, /(^|[^A-Za-z0-9_.\/$})-])(lib|bin|tests|bench|formats|scripts|pipelines|docs|\.ci)\/[A-Za-z0-9_.\/*<>{}%$+-]*/)) {
            w = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
            if (w !~ /^[a-z.]/) w = substr(w, 2)
            print n "\t" w
        }
        s = t
        while (md && match(s, /\]\([^) ]+\)/)) {
            print n "\t" substr(s, RSTART, RLENGTH - 1); s = substr(s, RSTART + RLENGTH)
        }
    }'
}

scan() { # FILE KIND
    local f=$1 n w
    while IFS=$'\t' read -r n w; do
        if [[ $w == ']('* ]]; then check_link "$f" "$n" "${w:2}"; else check_word "$f" "$n" "$w"; fi
    done < <(words "$f" "$2")
}

shopt -s nullglob globstar
for f in README.md docs/*.md formats/*.md bench/*.md bench/*.sh pipelines/*.sh scripts/*.sh; do
    scan "$f" all
done
for f in Makefile .ci/run pipelines/**/*.mk; do [ -f "$f" ] && scan "$f" sh; done
for f in lib/**/*.c lib/**/*.h lib/**/*.cu lib/**/*.cuh bin/*.c tests/unit/*.c tests/unit/*.h; do
    scan "$f" c
done
exit $bad
