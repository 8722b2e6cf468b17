#!/usr/bin/env bash
# Full test run (what CI runs): dependencies, three builds, three ctest stages.
#   (a) ASan/UBSan build: everything but the fuzzers
#   (b) fuzz build: the fuzzers only
#   (c) release build: everything
# Every stage runs even when an earlier one failed; the last line is
# "N passed, N failed" and the exit status is non-zero if anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

logdir="$ROOT/build-logs"
mkdir -p "$logdir"

total_passed=0
total_failed=0
failed_steps=()
started=$SECONDS

step() { # step NAME COMMAND... : runs a non-test step, records a failure
  local name="$1"; shift
  echo "=== $name: $*"
  local t0=$SECONDS
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    local rc=$?
    echo "=== $name: FAILED (exit $rc, $((SECONDS - t0)) s)"
    failed_steps+=("$name")
  fi
}

ctest_stage() { # ctest_stage NAME CTEST-ARGS... : runs ctest, adds up its summary line
  local name="$1"; shift
  local log="$logdir/ctest-$name.log"
  local t0=$SECONDS rc=0
  echo "=== ctest $name: ctest $*"
  if ctest "$@" 2>&1 | tee "$log"; then rc=0; else rc=$?; fi

  local line failed total
  line="$(grep -E '[0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)"
  if [[ -n "$line" ]]; then
    failed="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
    total="$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
    total_failed=$((total_failed + failed))
    total_passed=$((total_passed + total - failed))
    echo "=== ctest $name: $((total - failed)) passed, $failed failed ($((SECONDS - t0)) s)"
    if (( rc != 0 && failed == 0 )); then failed_steps+=("ctest $name (exit $rc)"); fi
  else
    # No summary line: no tests found, build tree missing, or ctest crashed.
    echo "=== ctest $name: no test summary (exit $rc)"
    failed_steps+=("ctest $name (no summary)")
  fi
}

step deps bash scripts/deps.sh --test
step build-release bash scripts/build.sh release
step build-asan bash scripts/build.sh asan
step build-fuzz bash scripts/build.sh fuzz

# Real services for the tests that need them (a test that cannot reach one fails).
export REDIS_PORT="${REDIS_PORT:-16379}"
export PG_PORT="${PG_PORT:-15432}"
step services bash scripts/services.sh start
trap 'bash scripts/services.sh stop' EXIT

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

ctest_stage asan --test-dir build-asan --output-on-failure -j2 --timeout 600 -E '^fuzz'
ctest_stage fuzz --test-dir build-fuzz -R '^fuzz' --output-on-failure --timeout 600
ctest_stage release --test-dir build --output-on-failure -j2 --timeout 600

echo "=== total wall time: $((SECONDS - started)) s"
if (( ${#failed_steps[@]} > 0 )); then
  echo "=== failed steps: ${failed_steps[*]}"
fi
echo "$total_passed passed, $total_failed failed"

if (( total_failed > 0 || ${#failed_steps[@]} > 0 )); then
  exit 1
fi
