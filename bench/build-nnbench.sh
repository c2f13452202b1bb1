#!/usr/bin/env bash
# Build $BUILD/bench/nnbench (bench/nnbench.c against $BUILD/libdfstudy.a) through the Makefile's
# target, with its flags, for bench/cpu.sh, bench/gpu.sh and bench/march.sh. BUILD defaults to
# build; MARCH, when set, is the -march flag for both the library and nnbench (default: the
# Makefile's, -march=native).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
make -s -j"$(nproc)" BUILD="$BUILD" ${MARCH+MARCH="$MARCH"} "$BUILD/bench/nnbench"
