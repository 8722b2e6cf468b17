#!/usr/bin/env bash
# Throwaway services for the tests, on loopback ports, without systemd.
#   scripts/services.sh start   starts Redis on 127.0.0.1:$REDIS_PORT (default 16379)
#   scripts/services.sh stop    stops what start started
# The tests read REDIS_PORT from the environment and fail when nothing answers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${SERVICES_DIR:-$ROOT/build-services}"
REDIS_PORT="${REDIS_PORT:-16379}"

start() {
  mkdir -p "$BASE"
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "services.sh: Redis already answers on 127.0.0.1:$REDIS_PORT"
  else
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
      --daemonize yes --pidfile "$BASE/redis.pid" --logfile "$BASE/redis.log" --dir "$BASE"
    local deadline=$((SECONDS + 10))
    until redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; do
      if (( SECONDS >= deadline )); then
        echo "services.sh: Redis did not start on 127.0.0.1:$REDIS_PORT (see $BASE/redis.log)" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "services.sh: Redis on 127.0.0.1:$REDIS_PORT"
  fi
}

stop() {
  if [[ -f "$BASE/redis.pid" ]]; then
    kill "$(cat "$BASE/redis.pid")" 2>/dev/null || true
    rm -f "$BASE/redis.pid"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
