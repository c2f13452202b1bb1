#!/usr/bin/env bash
# How hard synth's unseen roles are (issues 5 and 10): train detectors on synth `celeb` and
# `f2f` with the demo profile's protocol, test them on every role's test split, and write the
# accuracy matrix plus the study's Tables 5-7 (`score --table`) as Markdown.
#
# The data, trainings, predictions and tables are pipelines/study.mk's own rules with
# PROFILE=demo (the make targets models/<Name><k>.ckpt, scores/<Name><k>/<SET>.tsv and
# tables/table<n>.md of the run directory WORKDIR/demo), restricted to the requested
# architectures by study.mk's ARCHS and, for -s 1, to the original roles by a copy of
# pipelines/study.conf without the transfer and merge roles (STUDY_CONF). So every setting of the
# demo profile, per-architecture ones included (EPOCHS1_<arch>, LR1_<arch>, BN_RECALIBRATE,
# AUG_VAL_VIDEOS...), reaches these trainings exactly as it reaches `make demo`'s; with the
# defaults (-t unset, -j 2) the train command lines are `make demo`'s, paths aside.
#
#   bench/synth-cross-role.sh [-a "meso4 shallownet"] [-s 1|123] [-o OUT.md] [-w WORKDIR] [-t N] [-j N] [-n]
#
#   -a ARCHS   architectures (train's names; default meso4)
#   -s STAGES  1: the original detectors only (<Arch>1 on CELEB, <Arch>4 on F2F);
#              123: also transfer and merge (<Arch>2,3,5,6) (default 123)
#   -o FILE    the report (default bench/synth-cross-role.md; '-' = stdout)
#   -w DIR     keep the run (DIR/demo: data, checkpoints, scores, tables) in DIR, and reuse what
#              is up to date there on a rerun (make); default: a temporary folder, removed
#   -t N       threads of each synth, train and predict (THREADS; default the profile's, 1)
#   -j N       targets made at a time (make -j; default 2, as `make demo`)
#   -n         print the commands make would run (make -n) and stop: no data, model, score or report is made
# Run it after `make`, under `nice -n 10` on a shared machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=$here/bin
archs=meso4 stages=123 out=$here/bench/synth-cross-role.md work='' threads='' jobs=2 dry=''
cmdline="bench/synth-cross-role.sh$(printf ' %q' "$@")"
usage="usage: $0 [-a ARCHS] [-s 1|123] [-o OUT.md] [-w DIR] [-t N] [-j N] [-n]"
while getopts a:s:o:w:t:j:n opt; do
    case $opt in
    a) archs=$OPTARG ;;
    s) stages=$OPTARG ;;
    o) out=$OPTARG ;;
    w) work=$OPTARG ;;
    t) threads=$OPTARG ;;
    j) jobs=$OPTARG ;;
    n) dry=1 ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done
[ $OPTIND -gt $# ] || { echo "$0: unexpected argument '${!OPTIND}'" >&2; echo "$usage" >&2; exit 2; }
case $stages in 1|123) ;; *) echo "$0: -s: '$stages' is not 1 or 123" >&2; exit 2 ;; esac
[ -n "${archs// }" ] || { echo "$0: -a: no architecture" >&2; exit 2; }
positive() { case $2 in '' | *[!0-9]* | 0*) echo "$0: $1: '$2' is not a positive number" >&2; exit 2 ;; esac; }
[ -z "$threads" ] || positive -t "$threads"
positive -j "$jobs"
if [ -z "$work" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
R=$work/demo

# -s 1: the study's config without the roles that fine-tune (transfer, merge), so study.mk's
# detectors, scores and tables are the original ones; rewritten only when it changes, so a rerun
# in the same DIR keeps its tables
conf=$here/pipelines/study.conf
if [ "$stages" = 1 ]; then
    awk -F'\t' '$1 != "role" || $4 == "original"' "$conf" > "$work/study-s1.conf.tmp"
    if cmp -s "$work/study-s1.conf.tmp" "$work/study-s1.conf"; then rm "$work/study-s1.conf.tmp"
    else mv "$work/study-s1.conf.tmp" "$work/study-s1.conf"; fi
    conf=$work/study-s1.conf
fi

# study ARGS...: pipelines/study.mk with the demo profile, this bench's architectures, roles and
# threads, and two goals of its own: cross-role (every detector's scores on every test set and
# Tables 5-7) and print (NAME=value of each variable named in PRINT, as study.mk has it)
study() {
    local first
    read -r first _ <<< "$archs"
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -j"$jobs" -f "$here/pipelines/study.mk" -f - \
        PROFILE=demo RUNS="$work" BIN="$BIN" ARCHS="$archs" ACE_ARCH="$first" STUDY_CONF="$conf" \
        ${threads:+THREADS="$threads"} "$@" <<'EOF'
cross-role: $(SCORES) $(foreach n,5 6 7,$(R)/tables/table$(n).md)
print: ; @printf '%s\n' $(foreach v,$(PRINT),'$(v)=$($(v))')
.PHONY: cross-role print
EOF
}

# A run kept in DIR with the other -s: its tables' config holds the other roles, and make would
# keep it (it is newer than the config given now): make -W, as if that config had just changed.
cfg=$R/tables/config.tsv renew=''
if [ -e "$cfg" ] && ! cmp -s <(awk -F'\t' '$1 == "role"' "$conf") <(awk -F'\t' '$1 == "role"' "$cfg"); then
    renew=$conf
fi

if [ -n "$dry" ]; then
    study -n ${renew:+-W "$renew"} cross-role
    exit 0
fi

start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
study ${renew:+-W "$renew"} cross-role
secs=$(($(date +%s) - start))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# the run's settings as study.mk has them, and the profile's per-architecture ones of these
# architectures (EPOCHS1_<arch>, EPOCHS23_<arch>, LR1_<arch>, LR23_<arch>)
vars="DETECTORS TESTSETS SIZE TRAIN_VIDEOS VAL_VIDEOS TEST_VIDEOS AUG_VIDEOS AUG_VAL_VIDEOS FRAMES EPOCHS1 EPOCHS23 \
      BATCH1 BATCH23 STEPS SEED THREADS BN_RECALIBRATE"
arch_vars=$(for a in $archs; do printf ' EPOCHS1_%s EPOCHS23_%s LR1_%s LR23_%s' "$a" "$a" "$a" "$a"; done)
per_arch=
while IFS= read -r line; do
    k=${line%%=*} v=${line#*=}
    case " $arch_vars " in
    *" $k "*) [ -z "$v" ] || per_arch+=" $k=$v" ;;
    *) printf -v "$k" '%s' "$v" ;;
    esac
done < <(study -s print PRINT="$vars $arch_vars")
read -r -a detectors <<< "$DETECTORS"

# the matrix: frame accuracy (%) of every detector on every test set, the training set's own
# first, then the unseen average and the degradation as Table 5 computes them
matrix() {
    printf '| detector | trained on | %s | unseen avg (FS NT DF DFD) | degradation |\n' "$(sed 's/ / | /g' <<< "$TESTSETS")"
    printf '|---|---|%s---|---|\n' "$(for _ in $TESTSETS; do printf -- '---|'; done)"
    for d in "${detectors[@]}"; do
        case $d in *[123]) own=CELEB ;; *) own=F2F ;; esac
        for t in $TESTSETS; do
            "$BIN/score" "$R/scores/$d/$t.tsv" | awk -v t="$t" 'NR == 2 { printf "%s\t%.1f\n", t, 100 * $4 }'
        done | awk -F'\t' -v d="$d" -v own="$own" -v sets="$TESTSETS" '
            { acc[$1] = $2 }
            END {
                stage = substr(d, length(d)) + 0; stage = stage > 3 ? stage - 3 : stage
                how = stage == 1 ? "" : stage == 2 ? " + transfer" : " + merge"
                printf "| %s | %s%s |", d, own, how
                n = split(sets, s, " ")
                for (i = 1; i <= n; i++) printf(s[i] == own ? " **%.1f** |" : " %.1f |", acc[s[i]])
                u = (acc["FS"] + acc["NT"] + acc["DF"] + acc["DFD"]) / 4
                printf " %.1f | %.1f |\n", u, acc[own] - u
            }'
    done
}

{
    echo "# synth cross-role accuracy: detectors trained on synth celeb and f2f, tested on every role"
    echo
    echo "Written by \`bench/synth-cross-role.sh\` (issues 5 and 10) through pipelines/study.mk's rules with"
    echo "the demo profile (pipelines/profiles/demo.mk), so the trainings are \`make demo\`'s:"
    echo "${SIZE} px, train ${TRAIN_VIDEOS} videos x ${FRAMES} frames, val ${VAL_VIDEOS},"
    echo "test ${TEST_VIDEOS} videos per role ($((TEST_VIDEOS * FRAMES)) images, half fake), stage 1 ${EPOCHS1} epochs batch ${BATCH1};"
    echo "stages 2/3 (transfer, merge) ${EPOCHS23} epochs x ${STEPS} steps, batch ${BATCH23}, alternating with FS+NT"
    echo "(${AUG_VIDEOS} videos of each, validation ${AUG_VAL_VIDEOS}); batchnorm statistics recalibrated over"
    echo "${BN_RECALIBRATE:-no} training batches (BN_RECALIBRATE); per-architecture settings:${per_arch:- none}."
    echo "Frame-level accuracy (%) at threshold 0.5, seed ${SEED}; the training set's own"
    echo "test set in bold. Names as the paper's Table 4: <Arch>1-3 trained on CELEB, <Arch>4-6 on F2F."
    echo
    echo "- command: \`nice -n 10 $cmdline\` (commit $(git -C "$here" rev-parse --short HEAD)$(git -C "$here" diff --quiet HEAD -- lib bin pipelines || echo ', with uncommitted changes'))"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; make -j${jobs}, ${THREADS} thread(s) each; load average $load_start at the start, $load_end at the end; ${secs} s in all"
    echo
    echo "## Accuracy matrix (%)"
    echo
    matrix
    echo
    echo "What the paper found (its Tables 5-7) and this matrix should show: near-perfect accuracy on"
    echo "the training set's own test set; near chance (50-65%) on the unseen FS, NT, DF and DFD without"
    echo "augmentation, so degradations above 30 points; FS and NT better after transfer and merge"
    echo "learning with a few FS+NT images, DF and DFD not; CELEB-M (same method, other identities)"
    echo "better than the unseen sets for CELEB-trained detectors; FS-I and NT-I (F2F's identities)"
    echo "no better than FS and NT for F2F-trained ones; DF and DFD near chance in AUC too (0.4-0.8),"
    echo "not below it (fakes ranked as more real than the real images: an inverted set, issue 23)."
    echo "How synth's methods are built to give this:"
    echo "formats/synth.md, 'Why the kinds differ'."
    echo
    for n in 5 6 7; do
        if [ $n = 5 ]; then echo "## Table 5 (\`score --table 5 --auc --markdown\`)"
        else echo "## Table $n (\`score --table $n --auc --markdown\`: detectors degrading more than 30 points, as the paper)"; fi
        echo
        cat "$R/tables/table$n.md"
        echo
    done
} > "$work/report.md"
if [ "$out" = - ]; then cat "$work/report.md"; else cp "$work/report.md" "$out.tmp.$$" && mv "$out.tmp.$$" "$out"; fi
