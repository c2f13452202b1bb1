#!/usr/bin/env bash
# Pack what bench/gpu-check.sh needs on a GPU machine that has CUDA but neither our dev packages
# nor their runtime libraries (libpng, OpenBLAS, FFmpeg) nor bats:
#
#   bench/gpu-pack.sh [DIR]        (default .gpu; build tree build-gpu/)
#
# Builds portable binaries (-march=x86-64-v3, so a GPU host's CPU without AVX-512 runs them;
# -Wl,--as-needed, so a tool records only the libraries it calls) in build-gpu/, then lays them out
# as a checkout's build would be (DIR/bin/TOOL, DIR/build/tests/TEST, DIR/build/libdfs_cuda.so,
# DIR/build/bench/nnbench: the tools find the CUDA plugin at ../build/ from their own path), copies
# the shared libraries they load that a bare CUDA image lacks into DIR/lib, bats with bats-support
# and bats-assert into DIR/bats, and checks the whole stays under 60 MiB (the device tool's carry
# limit is 64 MiB). Debug info is stripped. Tools whose libraries would not fit (FFmpeg's, pulled
# in by frame-extract) are left out and named in DIR/MANIFEST.
#
# Then, on the GPU machine, from the repository root: bash bench/gpu-check.sh --from DIR OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.gpu}
build=build-gpu
limit_mib=60
flags="-O2 -g -march=x86-64-v3 -Wl,--as-needed"
command -v nvcc > /dev/null || [ -x /usr/local/cuda/bin/nvcc ] || {
    echo "gpu-pack.sh: nvcc not found (PATH or /usr/local/cuda/bin): the CUDA plugin cannot be built" >&2
    exit 1
}

# the tools the tool tests and the benchmark call; frame-extract links FFmpeg (too large to carry)
tools="synth pack train predict cam ace score ssim crop"
tests="test_cuda_ops test_backend_graph test_cam"
targets="$build/libdfs_cuda.so"
for t in $tools; do targets="$targets $build/tools/$t"; done
for t in $tests; do targets="$targets $build/tests/$t"; done
targets="$targets $build/bench/nnbench"
# shellcheck disable=SC2086
nice -n 10 make -s -j"$(nproc)" BUILD=$build CFLAGS="$flags" TOOLS= $targets

# synth links FFmpeg only for its video output, whose libraries (with every codec they load) are
# far over the carry limit: the packed synth is the Makefile's synth-noav, which writes image
# streams, the same bytes as the full build (checked below), and must not be asked for video
nice -n 10 make -s BUILD=$build CFLAGS="$flags" TOOLS= $build/tools/synth-noav
if readelf -d $build/tools/synth-noav | grep -q 'NEEDED.*libav'; then
    echo "gpu-pack.sh: synth without FFmpeg still needs it" >&2
    exit 1
fi
a=$($build/tools/synth --role celeb --videos 2 --frames 2 --size 32 --seed 3 | cksum)
b=$($build/tools/synth-noav --role celeb --videos 2 --frames 2 --size 32 --seed 3 | cksum)
[ "$a" = "$b" ] || { echo "gpu-pack.sh: synth without FFmpeg writes other bytes" >&2; exit 1; }

rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"/{bin,build/tests,build/bench,lib,bats/bin,bats/lib/bats,bats/libexec}
for t in $tools; do strip --strip-debug -o "$dest.tmp/bin/$t" "$build/tools/$t"; done
strip --strip-debug -o "$dest.tmp/bin/synth" "$build/tools/synth-noav"
for t in $tests; do strip --strip-debug -o "$dest.tmp/build/tests/$t" "$build/tests/$t"; done
strip --strip-debug -o "$dest.tmp/build/bench/nnbench" "$build/bench/nnbench"
strip --strip-debug -o "$dest.tmp/build/libdfs_cuda.so" "$build/libdfs_cuda.so"

# Shared libraries: everything the binaries load except the C runtime (present everywhere) and
# CUDA's own (the GPU machine's toolkit and driver provide those). ldd resolves each file behind
# its symlinks; it is copied under the soname the binaries ask for.
skip='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|libcublas|libcublasLt|libcudart)\.'
for f in "$dest.tmp"/bin/* "$dest.tmp"/build/tests/* "$dest.tmp"/build/bench/nnbench; do
    ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r soname path; do
    [[ "$soname" =~ $skip ]] && continue
    cp -L "$path" "$dest.tmp/lib/$soname"
done

# bats (Debian's bats, bats-support, bats-assert): shell scripts, carried as they are, in the layout
# /usr/bin/bats expects (it finds libexec/ and lib/ beside its own bin/); helper.bash loads the
# support libraries from $DFS_BATS_LIB
cp -a /usr/bin/bats "$dest.tmp/bats/bin/"
cp -a /usr/lib/bats-core "$dest.tmp/bats/lib/"
cp -a /usr/libexec/bats-core "$dest.tmp/bats/libexec/"
cp -a /usr/lib/bats/bats-support /usr/lib/bats/bats-assert "$dest.tmp/bats/lib/bats/"
{
    echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- lib bin bench tests || echo '+dirty')"
    echo "built $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -m) with $(cc --version | head -1), $(nvcc --version 2>/dev/null | tail -1 || /usr/local/cuda/bin/nvcc --version | tail -1)"
    echo "flags $flags"
    echo "tools $tools"
    echo "tests $tests"
    echo "left out: frame-extract, and synth's video output (FFmpeg's libraries and their codecs exceed the carry limit)"
    echo "libs $(cd "$dest.tmp/lib" && echo *)"
} > "$dest.tmp/MANIFEST"

size=$(du -sm "$dest.tmp" | cut -f1)
if [ "$size" -ge "$limit_mib" ]; then
    echo "gpu-pack.sh: $dest would be $size MiB, over the $limit_mib MiB limit" >&2
    rm -rf "$dest.tmp"
    exit 1
fi
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "gpu-pack.sh: $dest: $size MiB ($(ls "$dest/lib" | wc -l) libraries); on the GPU machine: bash bench/gpu-check.sh --from $dest OUTDIR" >&2
