#!/bin/bash
# fanout.sh WAVE...: run a study's waves through GNU parallel (called by pipelines/study.mk when
# JOBS or HOSTS is given). For each wave, in order: `make -n WAVE` names the wave's out-of-date
# targets (the `: dfs-build TARGET` line every recipe starts with), and parallel runs one
# `make TARGET` per target, on this machine or (HOSTS) over ssh on the machines of HOSTS, which
# must see the run directory and the tools at the same paths. A wave's targets need only what
# earlier waves made, so the jobs never make a shared prerequisite twice at the same time.
# Environment: MAKE_ARGS (make arguments: -f study.mk and the variable overrides, quoted for the
# shell), JOBS (jobs per machine; default: parallel's, one per core, or one per GPU with GPUS),
# HOSTS (--sshloginfile; "slurm": the nodes of the Slurm allocation, from `scontrol show
# hostnames $SLURM_JOB_NODELIST`, JOBS jobs each), GPUS (device numbers, "0 1 2 3" or "0,1", or
# "all" for every GPU nvidia-smi lists here: each job runs through pipelines/gpu-job.sh, which
# hands it a GPU no other job of that machine holds, as CUDA_VISIBLE_DEVICES), GPU_SLOTS (jobs
# that share each GPU of GPUS, default 1; bench/gpu.sh --share K measures what sharing gains), FANOUT_DRY=1 (print the parallel command line and the
# host list, run nothing).
set -eu -o pipefail
me=fanout.sh
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${FANOUT_DRY:-}" ] || command -v parallel >/dev/null || { echo "$me: GNU parallel is not installed (make deps installs it)" >&2; exit 1; }
gpus=${GPUS:-}
if [ "$gpus" = all ]; then
    command -v nvidia-smi >/dev/null || { echo "$me: GPUS=all: nvidia-smi not found (give the device numbers)" >&2; exit 1; }
    n=$(nvidia-smi -L | grep -c '^GPU ') || { echo "$me: GPUS=all: nvidia-smi lists no GPU" >&2; exit 1; }
    gpus=$(seq -s ' ' 0 $((n - 1)))
fi
gpus=$(echo "$gpus" | tr ',' ' ' | xargs)
for g in $gpus; do
    case $g in *[!0-9]*) echo "$me: GPUS: '$g' is not a device number" >&2; exit 1 ;; esac
done
slots=${GPU_SLOTS:-1}
case $slots in ''|*[!0-9]*|0) echo "$me: GPU_SLOTS: '$slots' is not a positive whole number" >&2; exit 1 ;; esac
[ -z "$gpus" ] || [ "$slots" = 1 ] || gpus=$(for g in $gpus; do for ((i = 0; i < slots; i++)); do echo "$g"; done; done | xargs)
jobs=${JOBS:-}
[ -n "$jobs" ] || [ -z "$gpus" ] || jobs=$(echo $gpus | wc -w)
hosts=${HOSTS:-}
if [ "$hosts" = slurm ]; then
    [ -n "${SLURM_JOB_NODELIST:-}" ] || { echo "$me: HOSTS=slurm outside a Slurm allocation (no SLURM_JOB_NODELIST)" >&2; exit 1; }
    hosts=$(mktemp "${TMPDIR:-/tmp}/fanout-hosts.XXXXXX")
    trap 'rm -f "$hosts"' EXIT
    scontrol show hostnames "$SLURM_JOB_NODELIST" | awk -v j="$jobs" 'NF { print (j != "" ? j "/" : "") $1 }' > "$hosts"
    [ -s "$hosts" ] || { echo "$me: scontrol lists no host for $SLURM_JOB_NODELIST" >&2; exit 1; }
fi
[ -z "$hosts" ] || [ -r "$hosts" ] || { echo "$me: HOSTS=$hosts: no such file" >&2; exit 1; }
args=(--will-cite --halt soon,fail=1 --line-buffer)
[ -z "$jobs" ] || args+=(-j "$jobs")
[ -z "$hosts" ] || args+=(--sshloginfile "$hosts" --workdir "$PWD")
run="make -s --no-print-directory $MAKE_ARGS {}"
[ -z "$gpus" ] || run="$here/gpu-job.sh '$gpus' $run"
if [ -n "${FANOUT_DRY:-}" ]; then
    echo "parallel ${args[*]} $run"
    [ -z "$hosts" ] || sed 's/^/host: /' "$hosts"
    exit 0
fi
for wave in "$@"; do
    todo=$(eval "make -n --no-print-directory $MAKE_ARGS $wave" | sed -n 's/^: dfs-build //p')
    [ -n "$todo" ] || continue
    printf '%s\n' "$todo" | parallel "${args[@]}" "$run"
done
