#!/usr/bin/env bash
# Build $BUILD/bench/nnbench (bench/nnbench.c against $BUILD/libdfstudy.a; not part of `make`),
# for bench/cpu.sh, bench/gpu.sh and bench/march.sh. BUILD defaults to build; MARCH, when set, is
# the -march flag for both the library and nnbench (default: the Makefile's, -march=native).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
march=${MARCH--march=native}
make -s -j"$(nproc)" BUILD="$BUILD" ${MARCH+MARCH="$MARCH"} "$BUILD/libdfstudy.a"
mkdir -p "$BUILD/bench"
pkgs="libpng zlib libavformat libavcodec libswscale libavutil openblas"
# shellcheck disable=SC2046,SC2086
cc -O2 $march -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Ilib $(pkg-config --cflags $pkgs) \
    bench/nnbench.c "$BUILD/libdfstudy.a" $(pkg-config --libs $pkgs) -lm -ldl -fopenmp -o "$BUILD/bench/nnbench"
