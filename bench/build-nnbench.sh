#!/usr/bin/env bash
# Build build/bench/nnbench (bench/nnbench.c against build/libdfstudy.a; not part of `make`),
# for bench/cpu.sh and bench/gpu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc)" build/libdfstudy.a
mkdir -p build/bench
pkgs="libpng zlib libavformat libavcodec libswscale libavutil openblas"
# shellcheck disable=SC2046
cc -O2 -march=native -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Ilib $(pkg-config --cflags $pkgs) \
    bench/nnbench.c build/libdfstudy.a $(pkg-config --libs $pkgs) -lm -ldl -fopenmp -o build/bench/nnbench
