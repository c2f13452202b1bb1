#!/bin/bash
# gpu-job.sh "IDS" COMMAND...: run COMMAND with CUDA_VISIBLE_DEVICES set to one GPU of IDS that no
# other gpu-job.sh of this user holds on this machine (pipelines/fanout.sh runs each parallel job
# through it when GPUS is given, so N concurrent jobs on a machine with N GPUs get one each).
# IDS: device numbers separated by spaces or commas ("0 1 2 3"); a number listed k times is a
# GPU that k jobs share ("0 0 1 1": two jobs on each of two GPUs; fanout.sh's GPU_SLOTS). Each
# place is held by an flock on ${TMPDIR:-/tmp}/dfstudy-gpu-$USER/ID.J.lock (the J-th listing of
# ID) for the command's lifetime; when every place is held, it waits. DFS_GPU_LOG=FILE appends
# "ID<TAB>COMMAND" per job (to see the mapping).
set -u
me=gpu-job.sh
[ $# -ge 2 ] || { echo "usage: $me \"IDS\" COMMAND..." >&2; exit 2; }
ids=$(echo "$1" | tr ',' ' ')
shift
for id in $ids; do
    case $id in ''|*[!0-9]*) echo "$me: GPU id '$id' is not a whole number" >&2; exit 2 ;; esac
done
[ -n "$ids" ] || { echo "$me: no GPU ids given" >&2; exit 2; }
dir=${TMPDIR:-/tmp}/dfstudy-gpu-${USER:-$(id -u)}
mkdir -p "$dir" || { echo "$me: cannot make $dir" >&2; exit 2; }
# the places: ID.J for the J-th listing of ID
places=$(for id in $ids; do echo "$id"; done | awk '{ print $1 "." ++seen[$1] }')
while :; do
    for place in $places; do
        id=${place%.*}
        exec 9>>"$dir/$place.lock" || { echo "$me: cannot open $dir/$place.lock" >&2; exit 2; }
        if flock -n 9; then
            [ -z "${DFS_GPU_LOG:-}" ] || printf '%s\t%s\n' "$id" "$*" >> "$DFS_GPU_LOG"
            # the lock (fd 9) stays held by the command, and goes with it
            CUDA_VISIBLE_DEVICES=$id exec "$@"
        fi
        exec 9>&-
    done
    sleep 1
done
