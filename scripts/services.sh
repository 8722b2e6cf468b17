#!/usr/bin/env bash
# Throwaway services for the tests, on loopback ports, without systemd.
#   scripts/services.sh start   starts Redis on 127.0.0.1:$REDIS_PORT (default 16379)
#                               and PostgreSQL on 127.0.0.1:$PG_PORT (default 15432,
#                               user postgres, trust auth, database rollcall_test)
#   scripts/services.sh stop    stops what start started
# The tests read REDIS_PORT and PG_PORT from the environment and fail when
# nothing answers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${SERVICES_DIR:-$ROOT/build-services}"
REDIS_PORT="${REDIS_PORT:-16379}"
PG_PORT="${PG_PORT:-15432}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
# PostgreSQL runs as the user postgres, which must reach its data directory:
# not under the clone, which may sit in a directory only root can enter.
PG_BASE="${PG_SERVICES_DIR:-/tmp/rollcall-services-pg-$PG_PORT}"

pg_answers() {
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1
}

# A private cluster owned by postgres (it refuses to run as root), data on
# $PG_BASE, no durability (tests only), loopback only.
start_postgres() {
  if pg_answers; then
    echo "services.sh: PostgreSQL already answers on 127.0.0.1:$PG_PORT"
  else
    if [[ -z "$PGBIN" ]]; then
      echo "services.sh: PostgreSQL is not installed (scripts/deps.sh --test installs it)" >&2
      exit 1
    fi
    local run=(runuser -u postgres --)
    (( EUID == 0 )) || run=()
    rm -rf "$PG_BASE"
    install -d -m 0700 "$PG_BASE"
    (( EUID == 0 )) && chown postgres:postgres "$PG_BASE"
    "${run[@]}" "$PGBIN/initdb" -D "$PG_BASE/data" -U postgres -A trust --no-sync -E UTF8 \
      --locale=C.UTF-8 >"$PG_BASE/initdb.log" 2>&1 ||
      { echo "services.sh: initdb failed (see $PG_BASE/initdb.log)" >&2; exit 1; }
    "${run[@]}" "$PGBIN/pg_ctl" -D "$PG_BASE/data" -l "$PG_BASE/pg.log" -w -t 30 \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_BASE -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null ||
      { echo "services.sh: PostgreSQL did not start on 127.0.0.1:$PG_PORT (see $PG_BASE/pg.log)" >&2; exit 1; }
    echo "services.sh: PostgreSQL on 127.0.0.1:$PG_PORT"
  fi
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc \
    "select 1 from pg_database where datname = 'rollcall_test'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc 'create database rollcall_test' >/dev/null
}

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
  start_postgres
}

stop() {
  if [[ -f "$BASE/redis.pid" ]]; then
    kill "$(cat "$BASE/redis.pid")" 2>/dev/null || true
    rm -f "$BASE/redis.pid"
  fi
  if [[ -f "$PG_BASE/data/postmaster.pid" && -n "$PGBIN" ]]; then
    local run=(runuser -u postgres --)
    (( EUID == 0 )) || run=()
    "${run[@]}" "$PGBIN/pg_ctl" -D "$PG_BASE/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
