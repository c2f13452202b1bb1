#!/bin/sh
# progress.sh: the study's progress lines on stderr (pipelines/study.mk). Nothing it writes is
# read by a step of the study; it keeps its state in R/progress/.
#   progress.sh init R        targets to make, one a line (make -n's `: dfs-build` lines), on
#                             stdin: start a run's counter; prints the count
#   progress.sh done R TARGET START END
#                             one target finished (START, END: seconds since the epoch): append it
#                             and print "study: [done/total] TARGET SECONDS, about T left"
# The estimate of the time left needs a basis: two finished targets. Each remaining target is
# given the mean time of the finished ones of its kind (its stage: the directory under R, the
# first-stage trainings 1/4 apart from stages 2/3), else the mean of all; their sum is divided by
# the concurrency seen so far (finished seconds over wall seconds), so make -j and GNU parallel
# fan-outs are counted. Concurrent `done` calls are serialised with flock(1) when it exists.
set -eu
me=progress.sh
[ $# -ge 2 ] || { echo "usage: $me init R | done R TARGET START END" >&2; exit 2; }
cmd=$1 R=$2
P=$R/progress
case $cmd in
init)
    mkdir -p "$P"
    # written in place: only these lines read it, and a temporary in R would be one more file a
    # concurrent make of the same run could see or a kill could leave behind
    sed -n "s|^: dfs-build $R/||p" > "$P/todo"
    : > "$P/done.tsv"
    date +%s.%N > "$P/start"
    wc -l < "$P/todo" | tr -d ' '
    ;;
done)
    [ $# -eq 5 ] || { echo "usage: $me done R TARGET START END" >&2; exit 2; }
    [ -s "$P/start" ] && [ -f "$P/todo" ] || exit 0   # not started by `make study`: no counter
    t=$3 s=$4 e=$5
    report() {
        printf '%s\t%s\n' "$t" "$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')" >> "$P/done.tsv"
        now=$(date +%s.%N)
        line=$(awk -F'\t' -v now="$now" -v start="$(cat "$P/start")" '
            function kind(p,   k) {
                k = p; sub(/\/.*/, "", k)
                if (k == "models") return p ~ /[14]\.ckpt$/ ? "train1" : "train23"
                if (k == "rq3" || k == "rq4" || k == "data") { split(p, a, "/"); return a[1] "/" a[2] }
                return k
            }
            FILENAME ~ /done.tsv$/ { done[$1] = 1; n++; sum += $2; ks[kind($1)] += $2; kn[kind($1)]++; last = $1; lastsec = $2; next }
            { total++; if (!($1 in done)) todo[$1] = 1 }
            END {
                if (total < n) total = n
                out = sprintf("study: [%d/%d] %s %.1fs", n, total, last, lastsec)
                left = 0; for (x in todo) { k = kind(x); left += (k in kn) ? ks[k] / kn[k] : sum / n }
                wall = now - start; conc = wall > 0 ? sum / wall : 1; if (conc < 1) conc = 1
                if (n >= 2 && n < total) {
                    r = left / conc
                    if (r >= 3600) out = out sprintf(", about %dh%02dm left", int(r / 3600), int(r % 3600 / 60))
                    else if (r >= 60) out = out sprintf(", about %dm%02ds left", int(r / 60), int(r % 60))
                    else out = out sprintf(", about %ds left", int(r + 0.5))
                }
                print out
            }' "$P/done.tsv" "$P/todo")
        # a training's live progress bar (trainer: only on a terminal) may hold the line: clear it
        if [ -t 2 ]; then printf '\r\033[K%s\n' "$line" >&2; else printf '%s\n' "$line" >&2; fi
    }
    if command -v flock > /dev/null; then
        exec 9>> "$P/lock"
        flock 9
    fi
    report
    ;;
*) echo "$me: unknown command '$cmd' (init or done)" >&2; exit 2 ;;
esac
