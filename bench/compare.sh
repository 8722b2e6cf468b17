#!/usr/bin/env bash
# Compare rollcalld with Node socket.io 4.8 and the C "kernel floor" server:
# server CPU per unit of work and RSS, one table, raw JSON/CSV and a chart.
# See bench/README.md, section "Comparing with Node and the kernel floor".
#
#   bash bench/compare.sh [--quick] [--scenarios a,b] [--threads N] [--repeat R]
#                         [--servers node,floor,rollcall] [--floor-all] [--png FILE] [--list]
#
# Builds nothing of rollcall: expects build/bin/rollcalld and
# build/bin/rollcall-loadgen (bash scripts/build.sh release). It compiles
# bench/floor_server.c into build/bin/floor_server when that is missing or
# older than its source, runs `npm ci` in bench/node when node_modules is
# missing, and installs gnuplot-nox with apt-get when gnuplot is missing.
# Loopback only; every process it starts is bounded in time and stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() {
  cat <<'EOF'
usage: bash bench/compare.sh [options]
  --quick              small counts (about 2 minutes): checks that everything works
  --scenarios a,b      only these scenarios (see --list)
  --servers a,b        only these servers: node, floor, rollcall (default all three)
  --threads N          rollcalld event loop threads (default 1: one core per server)
  --repeat R           run every scenario/server pair R times (1-9), report the median
  --floor-all          also run the floor server in the non-broadcast scenarios
  --png FILE           where the chart goes (default: docs/performance.png after a
                       complete full run, build/bench/performance.png otherwise)
  --loadgen FILE       another load generator binary (default build/bin/rollcall-loadgen)
  --list               print the scenarios and their parameters, run nothing
Results: build/bench/results.json, results.csv, table.txt, logs/.
EOF
}

QUICK=0
LIST=0
PNG=""
LOADGEN="$ROOT/build/bin/rollcall-loadgen"
SERVERS="node,floor,rollcall"
PASS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; PASS+=(--quick); shift ;;
    --list) LIST=1; shift ;;
    --floor-all) PASS+=(--floor-all); shift ;;
    --scenarios|--threads|--repeat) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; PASS+=("$1" "$2"); shift 2 ;;
    --servers) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; SERVERS="$2"; shift 2 ;;
    --png) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; PNG="$2"; shift 2 ;;
    --loadgen) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; LOADGEN="$(realpath "$2")"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
PASS+=(--servers "$SERVERS" --loadgen "$LOADGEN")

command -v node >/dev/null || { echo "node is needed (bash scripts/deps.sh --test installs it)" >&2; exit 1; }
if [[ $LIST -eq 1 ]]; then
  exec node bench/scripts/run.mjs --root "$ROOT" "${PASS[@]}" --list
fi

OUT="$ROOT/build/bench"
BIN="$ROOT/build/bin"
mkdir -p "$OUT" "$BIN"
has() { [[ ",$SERVERS," == *",$1,"* ]]; }

# ---- prerequisites ----------------------------------------------------------
[[ -x "$LOADGEN" ]] || { echo "missing $LOADGEN: build rollcall first (bash scripts/build.sh release)" >&2; exit 1; }
if has rollcall && [[ ! -x "$BIN/rollcalld" ]]; then
  echo "missing $BIN/rollcalld: build rollcall first (bash scripts/build.sh release)" >&2
  exit 1
fi
if has floor && { [[ ! -x "$BIN/floor_server" ]] || [[ bench/floor_server.c -nt "$BIN/floor_server" ]]; }; then
  echo "compiling bench/floor_server.c -> build/bin/floor_server"
  gcc -O2 -Wall -o "$BIN/floor_server" bench/floor_server.c -lcrypto
fi
if has node && [[ ! -d bench/node/node_modules/socket.io ]]; then
  echo "installing bench/node (npm ci)"
  (cd bench/node && timeout 600 npm ci --no-audit --no-fund)
fi
if ! command -v gnuplot >/dev/null; then
  echo "installing gnuplot-nox (for the chart)"
  if ! { timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq gnuplot-nox >/dev/null; }; then
    echo "warning: could not install gnuplot-nox; the chart will be skipped" >&2
  fi
fi

# ---- limits and pinning -----------------------------------------------------
# 19,000 connections need 19,000 descriptors in the server: take the hard limit.
HARD="$(ulimit -Hn)"
ulimit -n "$HARD" 2>/dev/null || true
echo "open files: soft $(ulimit -n), hard $HARD (per process; the 19k scenario needs > 19,000 in the server)"
NCPU="$(getconf _NPROCESSORS_ONLN)"
if [[ $NCPU -lt 2 ]]; then
  echo "note: $NCPU CPU: no pinning, server and load generators share the core"
fi
# The orchestrator runs beside the load generators (CPU 1), away from the server's core.
PIN_SELF=()
if [[ $NCPU -ge 2 ]] && command -v taskset >/dev/null; then PIN_SELF=(taskset -c 1); fi

# Everything stops by itself: the whole run is bounded (each load generator
# and server is also bounded inside run.mjs).
if [[ $QUICK -eq 1 ]]; then LIMIT=900; else LIMIT=3000; fi
set +e
timeout --signal=TERM --kill-after=30 "$LIMIT" "${PIN_SELF[@]}" node bench/scripts/run.mjs --root "$ROOT" --out "$OUT" "${PASS[@]}"
RC=$?
set -e
if [[ $RC -eq 124 ]]; then echo "compare.sh: stopped after $LIMIT s" >&2; fi
[[ -f "$OUT/results.json" ]] || exit "$RC"

# ---- chart -------------------------------------------------------------------
COMPLETE=0
if [[ $QUICK -eq 0 && $RC -eq 0 && "${PASS[*]}" != *--scenarios* && "$SERVERS" == "node,floor,rollcall" ]]; then COMPLETE=1; fi
if [[ -z "$PNG" ]]; then
  if [[ $COMPLETE -eq 1 ]]; then PNG="$ROOT/docs/performance.png"; else PNG="$OUT/performance.png"; fi
fi
if command -v gnuplot >/dev/null; then
  TERM_NAME=png
  if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then TERM_NAME=pngcairo; fi
  SUBTITLE="$(node -e '
    const r = require(process.argv[1]);
    console.log(`${r.mode} run ${r.finished.slice(0, 16).replace("T", " ")} UTC, rollcalld --threads ${r.options.threads}, ${r.host.nproc} CPUs, ${r.host.pinned ? "server pinned to CPU " + r.host.server_cpus.node : "not pinned"}`);
  ' "$OUT/results.json")"
  NCPUROWS="$(grep -vc '^#' "$OUT/cpu.dat" || true)"
  NRSSROWS="$(grep -vc '^#' "$OUT/rss.dat" || true)"
  if [[ $((NCPUROWS + NRSSROWS)) -eq 0 ]]; then
    echo "no data for a chart"
  elif gnuplot -e "term='$TERM_NAME'; out='$PNG'; cpu='$OUT/cpu.dat'; rss='$OUT/rss.dat'; ncpu=$NCPUROWS; nrss=$NRSSROWS; subtitle='$SUBTITLE'" bench/scripts/chart.gp 2>"$OUT/gnuplot.log"; then
    echo "chart: ${PNG#"$ROOT/"}"
  else
    cat "$OUT/gnuplot.log" >&2
    echo "warning: gnuplot failed; no chart" >&2
  fi
fi
echo "results: build/bench/results.json, build/bench/results.csv, build/bench/table.txt (logs in build/bench/logs/)"
exit "$RC"
