#!/usr/bin/env bash
# Installs the build and test dependencies of rollcall on Debian 12 (run as root).
# Idempotent: apt-get runs only when a package is missing.
#   scripts/deps.sh          build dependencies
#   scripts/deps.sh --test   ... plus Debian's chromium (browser interop test) and
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
  libhiredis-dev libsqlite3-dev sqlite3 redis-server redis-tools
  clang libclang-rt-14-dev
)

# tests/interop/browser.test.mjs drives /usr/bin/chromium headless through
# playwright-core (which never downloads a browser of its own).
if (( with_test )); then
  packages+=(chromium)
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
