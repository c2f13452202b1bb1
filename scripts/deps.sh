#!/bin/sh
# Install the Debian packages dfstudy needs: idempotent, non-interactive, a no-op when all are
# present. --fixtures adds what only the fixture generators (tests/make-fixtures-*.py) need (never
# make test); --arm64 what `make cross-arm64` needs: the arm64 cross compiler, qemu-user and the
# arm64 builds of the libraries (Debian multiarch; apt keeps the amd64 copies of shared libraries
# at the same version, so it may update some of them to the suite's current point release).
set -eu
RUNTIME="gcc make pkg-config libpng-dev zlib1g-dev libopenblas-openmp-dev libavformat-dev
libavcodec-dev libswscale-dev libavutil-dev bats bats-assert bats-support parallel gnuplot-nox
opencv-data libdlib-data opencv-doc clang libclang-rt-14-dev"
FIXTURES="python3-torch python3-numpy python3-skimage python3-sklearn python3-opencv libdlib-dev g++"
ARM64="gcc-aarch64-linux-gnu qemu-user libc6-dev:arm64 libgomp1:arm64 libpng-dev:arm64 zlib1g-dev:arm64
libopenblas-openmp-dev:arm64 libavformat-dev:arm64 libavcodec-dev:arm64 libswscale-dev:arm64
libavutil-dev:arm64"
want="$RUNTIME"
[ "${1:-}" = "--fixtures" ] && want="$FIXTURES"
[ "${1:-}" = "--arm64" ] && want="$ARM64"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ "${1:-}" = "--arm64" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
