#!/bin/bash
# gpu-job.sh "IDS" COMMAND...: run COMMAND with CUDA_VISIBLE_DEVICES set to one GPU of IDS that no
# other gpu-job.sh of this user holds on this machine (pipelines/fanout.sh runs each parallel job
# through it when GPUS is given, so N concurrent jobs on a machine with N GPUs get one each).
# IDS: device numbers separated by spaces or commas ("0 1 2 3"). The GPU is held by an flock on
# ${TMPDIR:-/tmp}/dfstudy-gpu-$USER/ID.lock for the command's lifetime; when every GPU is held,
# it waits. DFS_GPU_LOG=FILE appends "ID<TAB>COMMAND" per job (to see the mapping).
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
while :; do
    for id in $ids; do
        exec 9>>"$dir/$id.lock" || { echo "$me: cannot open $dir/$id.lock" >&2; exit 2; }
        if flock -n 9; then
            [ -z "${DFS_GPU_LOG:-}" ] || printf '%s\t%s\n' "$id" "$*" >> "$DFS_GPU_LOG"
            # the lock (fd 9) stays held by the command, and goes with it
            CUDA_VISIBLE_DEVICES=$id exec "$@"
        fi
        exec 9>&-
    done
    sleep 1
done
