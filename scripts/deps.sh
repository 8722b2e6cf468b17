#!/usr/bin/env bash
# Installs the build and test dependencies of rollcall on Debian 12 (run as root).
# Idempotent: apt-get runs only when a package is missing.
#   scripts/deps.sh          build dependencies
#   scripts/deps.sh --test   ... plus Debian's chromium (browser interop test), PostgreSQL 15 and
#                            the Node packages of tests/interop
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    -h|--help) echo "usage: $0 [--test]"; exit 0 ;;
    *) echo "deps.sh: unknown argument: $arg (usage: $0 [--test])" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libhiredis-dev libsqlite3-dev sqlite3 libpq-dev redis-server redis-tools
  clang libclang-rt-14-dev
)

# tests/interop/browser.test.mjs drives /usr/bin/chromium headless through
# playwright-core (which never downloads a browser of its own).
# The tests also run a private PostgreSQL (scripts/services.sh), and parse
# /metrics with the Prometheus project's own Python client (metrics.test.mjs).
if (( with_test )); then
  packages+=(chromium postgresql-15 postgresql-client-15 python3-prometheus-client)
fi

# Node.js: a newer one may already be installed outside Debian's archive; keep it when >= 18.
node_major=0
if command -v node >/dev/null 2>&1; then
  node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
fi
if [[ "$node_major" =~ ^[0-9]+$ ]] && (( node_major >= 18 )); then
  command -v npm >/dev/null 2>&1 || packages+=(npm)
else
  packages+=(nodejs npm)
fi

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if (( ${#missing[@]} > 0 )); then
  echo "deps.sh: installing: ${missing[*]}"
  sudo_cmd=()
  if (( EUID != 0 )); then
    if command -v sudo >/dev/null 2>&1; then
      sudo_cmd=(sudo)
    else
      echo "deps.sh: missing packages (${missing[*]}) and not root" >&2
      exit 1
    fi
  fi
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "deps.sh: all system packages present"
fi

# msgpack-c for C++ 4.1 (header-only; src/cluster's adapter wire codec).
# Debian's libmsgpack-cxx-dev cannot be installed here: it depends on
# libboost-dev, which is Boost 1.74 and conflicts with libboost1.81-dev.
# rollcall compiles the headers with MSGPACK_NO_BOOST (they then need no
# Boost at all), so the package is unpacked instead: apt-get download,
# dpkg-deb -x, and its headers copied to /usr/local/include (with its
# copyright file). dpkg does not track these files; re-running this script
# after deleting /usr/local/include/msgpack refreshes them.
msgpack_pkg=libmsgpack-cxx-dev
if [[ -f /usr/include/msgpack/version_master.hpp || -f /usr/local/include/msgpack/version_master.hpp ]]; then
  echo "deps.sh: $msgpack_pkg headers present"
else
  echo "deps.sh: unpacking $msgpack_pkg into /usr/local"
  sudo_cmd=()
  if (( EUID != 0 )); then sudo_cmd=(sudo); fi
  tmp="$(mktemp -d)"
  # -o APT::Sandbox::User=root: the download goes to a private temporary
  # directory that apt's unprivileged user could not write to.
  if ! (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$msgpack_pkg"); then
    "${sudo_cmd[@]}" apt-get update
    (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$msgpack_pkg")
  fi
  dpkg-deb -x "$tmp"/"$msgpack_pkg"_*.deb "$tmp/root"
  "${sudo_cmd[@]}" mkdir -p /usr/local/include "/usr/local/share/doc/$msgpack_pkg"
  "${sudo_cmd[@]}" cp -r "$tmp/root/usr/include/msgpack.hpp" "$tmp/root/usr/include/msgpack" /usr/local/include/
  "${sudo_cmd[@]}" cp "$tmp/root/usr/share/doc/$msgpack_pkg/copyright" "/usr/local/share/doc/$msgpack_pkg/"
  rm -rf "$tmp"
fi

# The pages rollcalld serves (/admin, /demo) embed socket.io-client's browser
# bundle at build time (CMakeLists.txt): install the pinned version.
web="$ROOT/src/app/web"
web_sum="$(sha256sum "$web/package-lock.json" "$web/package.json" | sha256sum | cut -d' ' -f1)"
if [[ -f "$web/node_modules/.rollcall-installed" && "$(cat "$web/node_modules/.rollcall-installed")" == "$web_sum" \
      && -f "$web/node_modules/socket.io-client/dist/socket.io.min.js" ]]; then
  echo "deps.sh: src/app/web/node_modules is up to date"
else
  (cd "$web" && npm ci --no-audit --no-fund)
  echo "$web_sum" > "$web/node_modules/.rollcall-installed"
fi

if (( with_test )); then
  node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if ! [[ "$node_major" =~ ^[0-9]+$ ]] || (( node_major < 18 )); then
    echo "deps.sh: warning: tests/interop needs Node.js >= 18; found $(node --version 2>/dev/null || echo none)" >&2
  fi
  interop="$ROOT/tests/interop"
  stamp="$interop/node_modules/.rollcall-installed"
  if [[ -f "$interop/package-lock.json" ]]; then
    lock_sum="$(sha256sum "$interop/package-lock.json" "$interop/package.json" | sha256sum | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_sum" \
          && -f "$interop/node_modules/socket.io-client/package.json" \
          && -f "$interop/node_modules/playwright-core/package.json" ]]; then
      echo "deps.sh: tests/interop/node_modules is up to date"
    else
      (cd "$interop" && npm ci --no-audit --no-fund)
      echo "$lock_sum" > "$stamp"
    fi
  else
    (cd "$interop" && npm install --no-audit --no-fund)
  fi
fi
