#!/usr/bin/env bash
# Cluster presence cost: rollcalld nodes (--bench, presence on, webhook
# outbox on and discarded) on a Redis of their own, connection churn from
# rollcall-loadgen spread over the nodes. Reports, per connection cycle
# (connect + CONNECT + disconnect of one user's only connection, so one
# user.online and one user.offline), the Redis commands (INFO
# commandstats), the rollcalld CPU (all nodes) and the Redis CPU.
#
#   bash bench/cluster.sh [--nodes N=3] [--clients C=60] [--duration S=10] [--threads T=1]
#                         [--server rollcall|node] [--scenario churn|idle|broadcast]
#                         [--rate R=10]
#
# --scenario broadcast: --clients spread over the nodes, all in the room
# "all"; the load generator of node 1 emits `bcast` R times a second, which
# every client of every node receives. Reports the servers' CPU per
# delivered message (compare with --nodes 1 and the same --clients).
#
# --scenario idle opens --clients connections spread over the nodes (one
# load generator per node, from 127.0.0.2, .3, ...) and keeps them for
# --duration: RSS per connection of each node, CPU, Redis memory and keys.
#
# --server node runs Node socket.io 4.8 servers with the classic
# @socket.io/redis-adapter on the same Redis instead (bench/node/server.mjs
# --redis; no presence at all), the comparison docs/performance.md makes.
#
# Expects build/bin/rollcalld and build/bin/rollcall-loadgen (bash
# scripts/build.sh release) and redis-server. Loopback only: Redis on
# 127.0.0.1:${BENCH_REDIS_PORT:-16390} (started and stopped here, no
# persistence), the nodes on free ports. Every process is stopped at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODES=3
CLIENTS=60
DURATION=10
THREADS=1
SERVER=rollcall
SCENARIO=churn
RATE=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) NODES="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --server) SERVER="$2"; shift 2 ;;
    --scenario) SCENARIO="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
(( NODES >= 1 && NODES <= 8 )) || { echo "--nodes: 1 to 8" >&2; exit 2; }
[[ $SERVER == rollcall || $SERVER == node ]] || { echo "--server: rollcall or node" >&2; exit 2; }
if [[ $SERVER == node && ! -d "$ROOT/bench/node/node_modules/@socket.io/redis-adapter" ]]; then
  (cd "$ROOT/bench/node" && npm ci --no-audit --no-fund >/dev/null)
fi

BIN="$ROOT/build/bin"
PORT="${BENCH_REDIS_PORT:-16390}"
WORK="$(mktemp -d /tmp/rollcall-bench-cluster.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --daemonize yes \
  --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log" >/dev/null
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis_pid="$(cat "$WORK/redis.pid")"

ports=()
node_pids=()
for i in $(seq 1 "$NODES"); do
  cat >"$WORK/node$i.toml" <<EOF
[server]
listen = "127.0.0.1:0"
threads = $THREADS
data_dir = "$WORK/node$i"
[presence]
grace_ms = 0
[log]
level = "warn"
[cluster]
redis_url = "redis://127.0.0.1:$PORT/0"
node_id = "bench-$i"
lease_ms = 5000
prefix = "rollcall-bench"
EOF
  if [[ $SERVER == rollcall ]]; then
    "$BIN/rollcalld" --bench --config "$WORK/node$i.toml" >"$WORK/node$i.out" 2>"$WORK/node$i.err" &
  else
    node "$ROOT/bench/node/server.mjs" --port 0 --redis "redis://127.0.0.1:$PORT/0" \
      >"$WORK/node$i.out" 2>"$WORK/node$i.err" &
  fi
  pid=$!
  pids+=("$pid")
  node_pids+=("$pid")
  for _ in $(seq 100); do grep -q '^listening' "$WORK/node$i.out" && break; sleep 0.05; done
  ports+=("$(sed -n 's/^listening //p' "$WORK/node$i.out")")
done

cpu_ticks() {  # utime + stime of a process, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
nodes_cpu() {
  local sum=0
  for p in "${node_pids[@]}"; do sum=$((sum + $(cpu_ticks "$p"))); done
  echo "$sum"
}
calls() {  # total calls of every command, and of scripts (EVAL, EVALSHA)
  redis-cli -p "$PORT" info commandstats | tr -d '\r' | awk -F'[:=,]' '
    /^cmdstat_/ { total += $3; if ($1 ~ /cmdstat_eval/) scripts += $3 }
    END { printf "%d %d\n", total, scripts }'
}

per_node=$(( (CLIENTS + NODES - 1) / NODES ))

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
wait_line() {  # file, line, deadline in s
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1"; do
    (( SECONDS < deadline )) || { echo "no '$2' in $1 within $3 s" >&2; tail -5 "$1" >&2; exit 1; }
    sleep 0.2
  done
}
if [[ $SCENARIO == broadcast ]]; then
  lg=()
  for i in $(seq 0 $((NODES - 1))); do
    send=(--rate "$RATE")
    (( i == 0 )) || send=(--no-send)
    "$BIN/rollcall-loadgen" --port "${ports[$i]}" --scenario broadcast --clients "$per_node" \
      "${send[@]}" --warmup 3 --duration "$DURATION" --source-ips "127.0.0.$((i + 2))" \
      >"$WORK/lg$i.out" 2>&1 &
    lg+=("$!")
  done
  wait_line "$WORK/lg0.out" "phase measure-start" 120
  ncpu0=$(nodes_cpu); rcpu0=$(cpu_ticks "$redis_pid")
  until grep -q "phase measure-end" "$WORK/lg0.out"; do sleep 0.1; done
  ncpu1=$(nodes_cpu); rcpu1=$(cpu_ticks "$redis_pid")
  for p in "${lg[@]}"; do wait "$p"; done
  delivered=0
  for i in $(seq 0 $((NODES - 1))); do
    d=$(sed -n 's/^result //p' "$WORK/lg$i.out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.delivered ?? 0)})')
    delivered=$((delivered + d))
  done
  hz=$(getconf CLK_TCK)
  LABEL="$SERVER, $NODES nodes, $CLIENTS clients, $RATE emits/s" node - "$delivered" "$((ncpu1 - ncpu0))" "$((rcpu1 - rcpu0))" "$hz" <<'EOF'
const [delivered, ncpu, rcpu, hz] = process.argv.slice(2).map(Number);
console.log(`${process.env.LABEL}: ${delivered} messages delivered in the window`);
console.log(`server CPU per delivered message (all nodes): ${(((ncpu / hz) * 1e6) / delivered).toFixed(2)} us`);
console.log(`Redis CPU per delivered message: ${(((rcpu / hz) * 1e6) / delivered).toFixed(3)} us`);
EOF
  exit 0
fi
if [[ $SCENARIO == idle ]]; then
  rss0=(); for p in "${node_pids[@]}"; do rss0+=("$(rss_kib "$p")"); done
  mem0=$(redis-cli -p "$PORT" info memory | tr -d '\r' | sed -n 's/^used_memory://p')
  ramp=$(( per_node / ${CONNECT_RATE:-1000} + 60 ))
  lg=()
  for i in $(seq 0 $((NODES - 1))); do
    "$BIN/rollcall-loadgen" --port "${ports[$i]}" --scenario idle --clients "$per_node" \
      --connect-rate "${CONNECT_RATE:-1000}" --warmup 2 --duration "$DURATION" --source-ips "127.0.0.$((i + 2))" \
      >"$WORK/lg$i.out" 2>&1 &
    lg+=("$!")
  done
  for i in $(seq 0 $((NODES - 1))); do wait_line "$WORK/lg$i.out" "phase measure-start" "$ramp"; done
  ncpu0=$(nodes_cpu); rcpu0=$(cpu_ticks "$redis_pid"); t0=$SECONDS
  total_rss=0
  for i in $(seq 0 $((NODES - 1))); do
    rss=$(rss_kib "${node_pids[$i]}")
    fds=$(ls "/proc/${node_pids[$i]}/fd" | wc -l)
    echo "node $((i + 1)): RSS $((rss / 1024)) MiB, $(( (rss - rss0[i]) * 1024 / per_node )) bytes per connection, $fds descriptors"
    total_rss=$((total_rss + rss))
  done
  mem1=$(redis-cli -p "$PORT" info memory | tr -d '\r' | sed -n 's/^used_memory://p')
  keys=$(redis-cli -p "$PORT" dbsize)
  until grep -q "phase measure-end" "$WORK/lg0.out"; do sleep 0.2; done
  ncpu1=$(nodes_cpu); rcpu1=$(cpu_ticks "$redis_pid"); secs=$((SECONDS - t0))
  for p in "${lg[@]}"; do wait "$p"; done
  connected=0
  for i in $(seq 0 $((NODES - 1))); do
    read -r c errs < <(sed -n 's/^result //p' "$WORK/lg$i.out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.connected, JSON.stringify(r.errors_by_kind))})')
    connected=$((connected + c))
    [[ $errs == "{}" ]] || echo "node $((i + 1)): connect errors $errs"
  done
  hz=$(getconf CLK_TCK)
  echo "$SERVER: $NODES nodes, $connected connections held for about $secs s"
  echo "all nodes: RSS $((total_rss / 1024)) MiB; CPU $(( (ncpu1 - ncpu0) * 100 / hz / (secs > 0 ? secs : 1) )) % of a core (heartbeats)"
  echo "Redis: $(( (mem1 - mem0) / connected )) bytes per connection (used_memory $((mem1 / 1048576)) MiB), $keys keys, CPU $(( (rcpu1 - rcpu0) * 100 / hz / (secs > 0 ? secs : 1) )) % of a core"
  exit 0
fi
read -r total0 scripts0 < <(calls)
ncpu0=$(nodes_cpu)
rcpu0=$(cpu_ticks "$redis_pid")
lg=()
for i in $(seq 0 $((NODES - 1))); do
  # Each load generator uses the tokens u0..u<per_node - 1>: the same
  # users on every node, so users also have connections on several nodes.
  "$BIN/rollcall-loadgen" --port "${ports[$i]}" --scenario churn --clients "$per_node" \
    --duration "$DURATION" --users "$per_node" >"$WORK/lg$i.out" 2>&1 &
  lg+=("$!")
done
for p in "${lg[@]}"; do wait "$p"; done
read -r total1 scripts1 < <(calls)
ncpu1=$(nodes_cpu)
rcpu1=$(cpu_ticks "$redis_pid")

cycles=0
for i in $(seq 0 $((NODES - 1))); do
  c=$(sed -n 's/^result //p' "$WORK/lg$i.out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).cycles_total))')
  cycles=$((cycles + c))
done
hz=$(getconf CLK_TCK)
SERVER=$SERVER node - "$cycles" "$((total1 - total0))" "$((scripts1 - scripts0))" "$((ncpu1 - ncpu0))" "$((rcpu1 - rcpu0))" "$hz" "$NODES" "$DURATION" <<'EOF'
const [cycles, cmds, scripts, ncpu, rcpu, hz, nodes, duration] = process.argv.slice(2).map(Number);
const us = (ticks) => ((ticks / hz) * 1e6) / cycles;
console.log(`${process.env.SERVER}: nodes ${nodes}, ${duration} s, ${cycles} connection cycles (${(cycles / duration).toFixed(0)}/s)`);
console.log(`Redis commands per cycle: ${(cmds / cycles).toFixed(2)} (scripts: ${(scripts / cycles).toFixed(2)})`);
console.log(`server CPU per cycle (all nodes): ${us(ncpu).toFixed(1)} us`);
console.log(`Redis CPU per cycle: ${us(rcpu).toFixed(1)} us`);
EOF
echo "Redis INFO commandstats (whole run):"
redis-cli -p "$PORT" info commandstats | tr -d '\r' | grep '^cmdstat_' | sed 's/^/  /'
