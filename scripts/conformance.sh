#!/usr/bin/env bash
# Runs the official protocol test suites, unmodified, against
# `rollcalld --conformance` for several loop counts:
#   - Engine.IO v4: github.com/socketio/engine.io-protocol, test-suite/ (24 cases)
#   - Socket.IO v5: github.com/socketio/socket.io-protocol, test-suite/ (32 cases)
#
#   scripts/conformance.sh [--runs N] [--threads "1 2 4"] [--from SRC] [--bin PATH] [--ws VERSION]
#
#   --runs N       runs of both suites per loop count, in a row, against one
#                  server per loop count (default 20)
#   --threads L    loop counts, space separated (default "1 2 4")
#   --from SRC     where the two repositories are cloned from: a URL prefix
#                  (default https://github.com/socketio) or a directory that
#                  holds engine.io-protocol/ and socket.io-protocol/ clones
#   --bin PATH     rollcalld to test (default build/bin/rollcalld; build it
#                  first with scripts/build.sh release)
#   --ws VERSION   the suites' WebSocket client, `ws` (default 8.16.0; "locked"
#                  keeps the version of their lockfile, 8.5.0)
#
# The suites are mocha suites with the server's address written in them
# (http://localhost:3000): each is checked out at the commit pinned below
# into build/conformance/, its own lockfile installs its npm packages (mocha,
# chai, chai-string, node-fetch, ws) and nothing in it is changed.
#
# Their cases wait for WebSocket messages one at a time, adding a once-
# listener after each await. A browser (the suites' index.html run) delivers
# each message in a task of its own; `ws` does too from 8.14 to 8.16, but
# 8.5.0 (their lockfile) emits every message of one TCP read at once, so the
# second of two frames that arrive together (a CONNECT reply and the event
# sent right after it) is lost, whatever the server: Node's own socket.io
# fails the suite's connect cases that way in most runs. Hence ws 8.16.0, in
# the suites' declared range (^8.5.0), installed over the lockfile's. As root,
# where `unshare --net` works, the servers and the suites run in a network
# namespace of their own (loopback only), so port 3000 of the machine is
# neither needed nor touched; otherwise port 3000 must be free.
#
# Every run prints one line per suite; the last line is "conformance: N passed,
# N failed" over all runs, and the exit status is non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The suites' commits (upstream main when this script was written).
EIO_COMMIT=f21de7b00ed09b3bbad2807db718ea5d6bc36aba
SIO_COMMIT=4f633dd6a4445492d57af3b27ddd2d336014f1f1
EIO_CASES=24
SIO_CASES=32

PORT=3000
RUN_DEADLINE=120   # seconds for one suite run (its cases take ~5 s)
START_DEADLINE=10  # seconds for rollcalld to listen

runs=20
threads="1 2 4"
from="https://github.com/socketio"
bin="$ROOT/build/bin/rollcalld"
ws_version=8.16.0
work="${CONFORMANCE_DIR:-$ROOT/build/conformance}"
inner=0

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2; }
while (( $# )); do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --from) from="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --ws) ws_version="$2"; shift 2 ;;
    --inner) inner=1; shift ;;  # internal: already inside the private namespace
    -h|--help) usage ;;
    *) echo "conformance.sh: unknown argument $1" >&2; usage ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "conformance.sh: --runs needs a positive number" >&2; exit 2; }
bin="$(realpath -m "$bin")"

# Clones (or updates) one suite at its pinned commit and installs its packages.
prepare() { # prepare NAME COMMIT
  local name="$1" commit="$2" dir="$work/$1"
  if [[ ! -d "$dir/.git" ]]; then
    git clone --quiet "$from/$name" "$dir"
  fi
  if ! git -C "$dir" cat-file -e "$commit^{commit}" 2>/dev/null; then
    git -C "$dir" fetch --quiet "$from/$name"
  fi
  git -C "$dir" checkout --quiet --detach "$commit"
  # Unmodified: the test-suite folder is exactly the pinned commit's.
  if ! git -C "$dir" diff --quiet "$commit" -- test-suite; then
    echo "conformance.sh: $dir/test-suite differs from $commit; refusing to run it" >&2
    exit 1
  fi
  local stamp="$dir/test-suite/node_modules/.installed-$commit-ws-$ws_version"
  if [[ ! -f "$stamp" ]]; then
    (cd "$dir/test-suite" && npm ci --no-audit --no-fund --loglevel=error)
    if [[ "$ws_version" != locked ]]; then
      (cd "$dir/test-suite" && npm install --no-save --no-audit --no-fund --loglevel=error "ws@$ws_version")
    fi
    touch "$stamp"
  fi
  echo "conformance.sh: $name at ${commit:0:12}, ws $(cd "$dir/test-suite" && node -p 'JSON.parse(require("fs").readFileSync("node_modules/ws/package.json", "utf8")).version')"
}

if (( ! inner )); then
  [[ -x "$bin" ]] || { echo "conformance.sh: $bin not found (bash scripts/build.sh release)" >&2; exit 1; }
  command -v node >/dev/null && command -v npm >/dev/null \
    || { echo "conformance.sh: needs node and npm (bash scripts/deps.sh --test)" >&2; exit 1; }
  mkdir -p "$work"
  prepare engine.io-protocol "$EIO_COMMIT"
  prepare socket.io-protocol "$SIO_COMMIT"
  args=(--runs "$runs" --threads "$threads" --from "$from" --bin "$bin" --ws "$ws_version")
  if [[ $EUID -eq 0 ]] && unshare --net true 2>/dev/null; then
    echo "conformance.sh: running in a private network namespace (loopback only)"
    exec env CONFORMANCE_DIR="$work" unshare --net bash -c 'ip link set lo up && exec bash "$0" --inner "$@"' \
      "$0" "${args[@]}"
  fi
  exec env CONFORMANCE_DIR="$work" bash "$0" --inner "${args[@]}"
fi

# From here on: the suites are ready; run them.
if command -v ss >/dev/null && ss -Hltn "sport = :$PORT" | grep -q .; then
  echo "conformance.sh: port $PORT is taken; the suites only know http://localhost:$PORT" >&2
  exit 1
fi

server_pid=""
server_log=""
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$server_pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then kill -KILL "$server_pid" 2>/dev/null || true; break; fi
    sleep 0.1
  done
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT

start_server() { # start_server THREADS
  server_log="$work/rollcalld-threads$1.log"
  local out="$work/rollcalld-threads$1.out"
  : >"$out"
  "$bin" --conformance --listen "127.0.0.1:$PORT" --threads "$1" >"$out" 2>"$server_log" &
  server_pid=$!
  local deadline=$((SECONDS + START_DEADLINE))
  until grep -q '^listening ' "$out"; do
    if ! kill -0 "$server_pid" 2>/dev/null || (( SECONDS >= deadline )); then
      echo "conformance.sh: rollcalld --threads $1 did not start listening:" >&2
      cat "$server_log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

passed=0
failed=0
run_suite() { # run_suite NAME CASES LABEL -> adds to passed/failed, prints one line
  local name="$1" cases="$2" label="$3" log
  log="$work/last-$name.log"
  local rc=0
  (cd "$work/$name/test-suite" && timeout "$RUN_DEADLINE" node_modules/.bin/mocha --reporter dot test-suite.js) \
    >"$log" 2>&1 || rc=$?
  local ok bad
  ok="$(grep -aoE '[0-9]+ passing' "$log" | grep -oE '[0-9]+' | tail -n 1 || true)"
  ok="${ok:-0}"
  # A case can fail twice (mocha also reports a done() called again), and
  # cases that did not run (a crash, the deadline) fail too: count by passes.
  (( ok > cases )) && ok=$cases
  bad=$((cases - ok))
  passed=$((passed + ok))
  failed=$((failed + bad))
  if (( rc == 0 && ok == cases && bad == 0 )); then
    echo "$label $name: $ok/$cases"
  else
    echo "$label $name: $ok/$cases, FAILED (exit $rc):"
    sed 's/^/    /' "$log"
    cp "$log" "$work/failed-threads$n-run$r-$name.log"
  fi
}

for n in $threads; do
  start_server "$n"
  for ((r = 1; r <= runs; r++)); do
    label="threads $n run $r/$runs"
    run_suite engine.io-protocol "$EIO_CASES" "$label"
    run_suite socket.io-protocol "$SIO_CASES" "$label"
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "conformance.sh: rollcalld --threads $n exited; its log:" >&2
      cat "$server_log" >&2
      failed=$((failed + 1))
      break
    fi
  done
  stop_server
done

echo "conformance: $passed passed, $failed failed"
(( failed == 0 ))
