#!/usr/bin/env bash
# Configures and builds rollcall with CMake + Ninja.
#   scripts/build.sh [release|asan|fuzz]     (default: release)
#     release -> build/       RelWithDebInfo
#     asan    -> build-asan/  Debug, -DROLLCALL_SANITIZE=ON
#     fuzz    -> build-fuzz/  clang, -DROLLCALL_FUZZ=ON
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

mode="${1:-release}"
args=()
case "$mode" in
  release)
    dir=build
    args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
    ;;
  asan)
    dir=build-asan
    args+=(-DCMAKE_BUILD_TYPE=Debug -DROLLCALL_SANITIZE=ON -DROLLCALL_BENCH=OFF)
    ;;
  fuzz)
    dir=build-fuzz
    export CC=clang CXX=clang++
    args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DROLLCALL_FUZZ=ON)
    ;;
  *)
    echo "usage: $0 [release|asan|fuzz]" >&2
    exit 2
    ;;
esac

if command -v ccache >/dev/null 2>&1; then
  args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout in the cache keys, so that another clone
  # of the repository (as CI makes) reuses the cached objects.
  export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=true
fi

# Pick the generator only on the first configure: re-running with -G against a
# tree configured by another generator is an error.
if [[ ! -f "$dir/CMakeCache.txt" ]]; then
  args+=(-G Ninja)
fi

cmake -S . -B "$dir" "${args[@]}"
cmake --build "$dir" -j2
