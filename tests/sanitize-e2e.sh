#!/usr/bin/env bash
# A short end-to-end pipeline with sanitizer-built tools (make sanitize builds them into
# build-san/tools/ with AddressSanitizer + UndefinedBehaviorSanitizer, LeakSanitizer included):
# synth (stream, PNGs, videos) -> pack -> frame-extract -> crop -> train (stages 1 and 2, one
# epoch, resume) -> predict -> score -> cam (and its sheet) -> ssim -> ace, plus a few refused inputs, so the error
# paths run under the sanitizers too. Any sanitizer report makes its tool exit non-zero and this
# script fail. Tiny sizes: seconds, not minutes.
#   tests/sanitize-e2e.sh BINDIR
# `make valgrind` runs the same pipeline with every tool under valgrind (DFS_RUNNER, a command
# prefix, below) on portable builds in build-vg/tools.
set -euo pipefail
read -r -a runner <<< "${DFS_RUNNER:-}"
B=$(cd "${1:?usage: tests/sanitize-e2e.sh BINDIR}" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export DFS_DEVICE=${DFS_DEVICE:-cpu}   # the cpu, as tests/run.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
t0=$(date +%s)
step() { echo "sanitize-e2e: ${*#"$B/"}" >&2; "${runner[@]}" "$@"; }
# refuse CMD...: CMD must fail with its own one-line error, not a sanitizer or valgrind report
# (exit 86 or 99; valgrind's own lines start with ==)
refuse() {
    local st=0
    "${runner[@]}" "$@" 2> err.txt || st=$?
    if [ "$st" -eq 0 ] || [ "$st" -eq 86 ] || [ "$st" -eq 99 ] || [ "$(grep -cv '^==' err.txt)" -ne 1 ]; then
        echo "sanitize-e2e: expected a one-line refusal from: $*" >&2
        cat err.txt >&2
        exit 1
    fi
}

step "$B/synth" --role celeb --split train --videos 4 --frames 2 --size 32 --seed 1 > train.dft
step "$B/synth" --role celeb --split val --videos 2 --frames 2 --size 32 --seed 1 > val.dft
step "$B/synth" --role fs --split test --videos 2 --frames 2 --size 32 --seed 2 --png png
step "$B/synth" --role fs --videos 2 --frames 3 --size 64 --seed 3 --video vids
step "$B/pack" --manifest png/manifest.tsv --dataset fs --shuffle --seed 1 -o test.dft
# a bare manifest name (no '/'): its paths get no directory prefix
(cd png && step "$B/pack" --manifest manifest.tsv --dataset fs -o ../bare.dft)
step "$B/pack" --balance --split 0.5 --seed 1 train.dft -o a.dft -o b.dft
step "$B/pack" --list test.dft > list.tsv
step "$B/pack" --unpack unpacked test.dft
step "$B/frame-extract" -n 2 vids/real/*.mp4 vids/fake/*.mp4 -o frames.dft
printf 'fs/000/f00\t4\t4\t40\t40\n' > boxes.tsv
step "$B/crop" --boxes boxes.tsv --size 32 frames.dft -o boxcrops.dft 2> /dev/null
if [ -f /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml ] &&
   [ -f /usr/share/dlib/shape_predictor_68_face_landmarks.dat ]; then
    step "$B/crop" --size 32 frames.dft -o faces.dft 2> /dev/null
fi
step "$B/train" --arch meso4 --train train.dft --val val.dft --epochs 1 --batch 4 -o m.ckpt -q
step "$B/train" --arch meso4 --train train.dft --val val.dft --epochs 2 --batch 4 -o m.ckpt --resume -q
step "$B/train" --from m.ckpt --mode transfer --train train.dft --mix test.dft --val val.dft --val-mix val.dft \
    --epochs 1 --batch 4 --steps 2 -o m2.ckpt -q
step "$B/train" --arch shallownet --size 32 --summary > summary.txt
mkdir -p scores/MesoNet1
step "$B/predict" -m m.ckpt test.dft -o scores/MesoNet1/FS.tsv
step "$B/score" --level both --bootstrap 20 scores/MesoNet1/FS.tsv -o metrics.tsv
step "$B/score" --table 5 --dir scores -o table5.md
step "$B/cam" -m m.ckpt --png heat -o heat1.dft < test.dft
step "$B/cam" -m m2.ckpt --guided -o heat2.dft < test.dft
step "$B/cam" --sheet sheet.png --images test.dft m1,fs=heat1.dft m2,fs=heat2.dft
step "$B/ssim" heat1.dft heat2.dft --hist hist.tsv -o ssim.tsv
step "$B/ace" -m m.ckpt --layer block4.relu --batches 1 --batch 4 --steps 2 test.dft -o ace1.tsv
step "$B/ace" -m m2.ckpt --layer block4.relu --batches 1 --batch 4 --steps 2 test.dft -o ace2.tsv
step "$B/ace" --overlap --top 4,8 ace1.tsv ace2.tsv -o overlap.tsv

# refused inputs: error paths under the sanitizers
head -c 3000 test.dft > cut.dft
refuse "$B/pack" cut.dft -o x.dft
refuse "$B/predict" -m cut.dft test.dft -o x.tsv
refuse "$B/ssim" heat1.dft cut.dft -o x.tsv
printf 'key\tdataset\tlabel\tp_fake\na\tb\t1\tnan\n' > nan.tsv
refuse "$B/score" nan.tsv -o x.tsv
refuse "$B/train" --arch meso4 --train cut.dft --val val.dft -o x.ckpt -q
echo "sanitize-e2e: the pipeline ran clean in $(($(date +%s) - t0)) s"
