#!/bin/bash
# fanout.sh WAVE...: run a study's waves through GNU parallel (called by pipelines/study.mk when
# JOBS or HOSTS is given). For each wave, in order: `make -n WAVE` names the wave's out-of-date
# targets (the `: dfs-build TARGET` line every recipe starts with), and parallel runs one
# `make TARGET` per target, on this machine or (HOSTS) over ssh on the machines of HOSTS, which
# must see the run directory and the tools at the same paths. A wave's targets need only what
# earlier waves made, so the jobs never make a shared prerequisite twice at the same time.
# Environment: MAKE_ARGS (make arguments: -f study.mk and the variable overrides, quoted for the
# shell), JOBS (jobs per machine; default: parallel's, one per core), HOSTS (--sshloginfile).
set -eu -o pipefail
me=fanout.sh
command -v parallel >/dev/null || { echo "$me: GNU parallel is not installed (make deps installs it)" >&2; exit 1; }
[ -z "${HOSTS:-}" ] || [ -r "$HOSTS" ] || { echo "$me: HOSTS=$HOSTS: no such file" >&2; exit 1; }
args=(--will-cite --halt soon,fail=1 --line-buffer)
[ -z "${JOBS:-}" ] || args+=(-j "$JOBS")
[ -z "${HOSTS:-}" ] || args+=(--sshloginfile "$HOSTS" --workdir "$PWD")
for wave in "$@"; do
    todo=$(eval "make -n --no-print-directory $MAKE_ARGS $wave" | sed -n 's/^: dfs-build //p')
    [ -n "$todo" ] || continue
    printf '%s\n' "$todo" | parallel "${args[@]}" "make -s --no-print-directory $MAKE_ARGS {}"
done
