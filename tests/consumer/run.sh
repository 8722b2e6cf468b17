#!/usr/bin/env bash
# install.consumer: installs the build tree $1 into a scratch prefix, builds
# tests/consumer against it as a separate CMake project (find_package +
# rollcall::rollcall, nothing from src/), and checks the program with
# socket.io-client (check.mjs). Fails, never skips.
set -euo pipefail
build="$1"
flags="${2:-}"  # compiler and linker flags the library was built with (sanitizers)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d /tmp/rollcall-consumer.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/prefix" > "$scratch/install.log"
# Only the public headers are installed.
if find "$scratch/prefix/include" -type f ! -path "*/include/rollcall/*" | grep -q .; then
  echo "install.consumer: headers outside include/rollcall were installed:" >&2
  find "$scratch/prefix/include" -type f >&2
  exit 1
fi
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$here" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  -DCMAKE_PREFIX_PATH="$scratch/prefix" "${launcher[@]}" > "$scratch/configure.log" ||
  { cat "$scratch/configure.log" >&2; exit 1; }
cmake --build "$scratch/build" > "$scratch/build.log" || { cat "$scratch/build.log" >&2; exit 1; }
# Without the auth component a program does not link hiredis.
if ldd "$scratch/build/consumer" | grep -q hiredis; then
  echo "install.consumer: the plain consumer links hiredis (only rollcall::auth should)" >&2
  exit 1
fi
node "$here/check.mjs" "$scratch/build/consumer"
if ldd "$scratch/build/consumer" | grep -q libpq; then
  echo "install.consumer: the plain consumer links libpq (only rollcall::notify should)" >&2
  exit 1
fi
node "$here/check.mjs" "$scratch/build/consumer_auth" auth
node "$here/check.mjs" "$scratch/build/consumer_notify" notify
