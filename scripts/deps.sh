#!/bin/sh
# Install the Debian packages dfstudy needs: idempotent, non-interactive, a no-op when all are
# present. --fixtures adds what only tests/make-fixtures.sh needs (never make test).
set -eu
RUNTIME="gcc make pkg-config libpng-dev zlib1g-dev libopenblas-openmp-dev libavformat-dev
libavcodec-dev libswscale-dev libavutil-dev bats bats-assert bats-support parallel gnuplot-nox
opencv-data libdlib-data opencv-doc clang libclang-rt-14-dev"
FIXTURES="python3-torch python3-numpy python3-skimage python3-sklearn python3-opencv libdlib-dev g++"
want="$RUNTIME"
[ "${1:-}" = "--fixtures" ] && want="$FIXTURES"
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
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
