// GET /metrics parsed by the Prometheus project's own parser (Python
// prometheus_client, Debian's python3-prometheus-client; lib/parse-metrics.py):
// every metric docs/operations.md lists, with values that follow what the
// test did. In a cluster: rollcall_redis_up, and /readyz naming Redis while
// it is stopped.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";

import { startNode, startPrivateRedis } from "./lib/cluster.mjs";
import {
  api,
  apiRequest,
  closeSocket,
  connectUser,
  presenceConfig,
  startRollcalld,
  tokenFor,
  WEBHOOK_SECRET,
} from "./lib/rollcalld.mjs";
import { closeAll, pollUntil } from "./lib/server.mjs";
import { startReceiver } from "./lib/webhook-receiver.mjs";

// Debian's Python, which has Debian's python3-prometheus-client (not a python3
// of another installation earlier in PATH).
const PYTHON = "/usr/bin/python3";
const PARSER = fileURLToPath(new URL("./lib/parse-metrics.py", import.meta.url));

const servers = [];
after(async () => {
  await closeAll();
  for (const s of servers) await s.stop().catch(() => {});
  for (const s of servers) s.cleanup();
});

/** Scrapes /metrics and parses it; { type(name), value(sample, labels), samples(name) }. */
async function scrape(server) {
  const res = await fetch(`${server.base}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  const out = spawnSync(PYTHON, [PARSER], { input: text, encoding: "utf8", timeout: 10000 });
  assert.equal(out.status, 0, `the Prometheus parser refused /metrics (is python3-prometheus-client installed? scripts/deps.sh --test): ${out.stderr}\n${text}`);
  const { families } = JSON.parse(out.stdout);
  const byName = new Map(families.map((f) => [f.name, f]));
  const samples = families.flatMap((f) => f.samples);
  const matches = (s, name, labels) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    text,
    families: byName,
    type: (name) => byName.get(name)?.type,
    samples: (name, labels = {}) => samples.filter((s) => matches(s, name, labels)),
    value(name, labels = {}) {
      const found = samples.filter((s) => matches(s, name, labels));
      assert.equal(found.length, 1, `one sample ${name}${JSON.stringify(labels)}, got ${found.length}\n${text}`);
      return found[0].value;
    },
  };
}

describe("/metrics", () => {
  it("parses as Prometheus text and counts connections, presence, webhooks, notifications, bytes and lag", async () => {
    const rx = await startReceiver({ secret: WEBHOOK_SECRET });
    try {
      const rc = await startRollcalld({ config: presenceConfig({ receiver: rx, graceMs: 200 }) });
      servers.push(rc);
      const ws = await connectUser(rc.url, tokenFor("m-ws"));
      const poll = await connectUser(rc.url, tokenFor("m-poll"), { transports: ["polling"] });
      await rx.waitFor((r) => r.delivered().length === 2, 5000, "two user.online");
      const published = await apiRequest(rc, "POST", "/v1/notifications", { audience: { users: ["m-ws"] }, type: "t", data: {} });
      assert.equal(published.status, 201, published.text);

      const m = await pollUntil(
        () => scrape(rc),
        (x) => x.value("rollcall_webhook_deliveries_total", { result: "delivered" }) >= 2,
        { ms: 5000, what: "the deliveries counted" },
      );
      // Families and types (counters lose "_total" in the parser's family names).
      const expected = {
        rollcall_connections: "gauge",
        rollcall_users_online: "gauge",
        rollcall_presence_transitions: "counter",
        rollcall_webhook_deliveries: "counter",
        rollcall_webhook_delivery_seconds: "histogram",
        rollcall_outbox_pending: "gauge",
        rollcall_notifications: "counter",
        rollcall_redis_up: "gauge",
        rollcall_postgres_up: "gauge",
        rollcall_event_loop_lag_seconds: "histogram",
        rollcall_bytes: "counter",
        process_cpu_seconds: "counter",
        process_resident_memory_bytes: "gauge",
        process_open_fds: "gauge",
        process_max_fds: "gauge",
        process_start_time_seconds: "gauge",
      };
      for (const [name, type] of Object.entries(expected)) assert.equal(m.type(name), type, `${name}\n${m.text}`);

      assert.equal(m.value("rollcall_connections", { transport: "websocket", nsp: "/" }), 1);
      assert.equal(m.value("rollcall_connections", { transport: "polling", nsp: "/" }), 1);
      assert.equal(m.value("rollcall_users_online"), 2);
      assert.equal(m.value("rollcall_presence_transitions_total", { type: "online" }), 2);
      assert.equal(m.value("rollcall_presence_transitions_total", { type: "offline" }), 0);
      assert.equal(m.value("rollcall_webhook_deliveries_total", { result: "failed" }), 0);
      assert.ok(m.value("rollcall_webhook_delivery_seconds_count") >= 1);
      assert.equal(m.value("rollcall_webhook_delivery_seconds_bucket", { le: "+Inf" }), m.value("rollcall_webhook_delivery_seconds_count"));
      assert.equal(m.value("rollcall_notifications_total"), 1);
      assert.equal(m.value("rollcall_redis_up"), 0);
      assert.equal(m.value("rollcall_postgres_up"), 0);
      assert.ok(m.value("rollcall_bytes_total", { direction: "in" }) > 0);
      assert.ok(m.value("rollcall_bytes_total", { direction: "out" }) > 0);
      assert.ok(m.value("rollcall_event_loop_lag_seconds_count") > 0);
      // Buckets are cumulative.
      const lag = m.samples("rollcall_event_loop_lag_seconds_bucket").map((s) => s.value);
      assert.deepEqual(lag, [...lag].sort((a, b) => a - b));
      assert.ok(m.value("process_open_fds") > 0);
      assert.ok(m.value("process_resident_memory_bytes") > 1e6);
      assert.ok(Math.abs(m.value("process_start_time_seconds") - Date.now() / 1000) < 3600);

      // The counts follow: the polling user leaves, goes offline after the grace.
      await closeSocket(poll);
      await rx.waitFor((r) => r.delivered("m-poll").length === 2, 5000, "m-poll offline");
      const later = await pollUntil(
        () => scrape(rc),
        (x) => x.value("rollcall_presence_transitions_total", { type: "offline" }) === 1,
        { ms: 5000, what: "the offline counted" },
      );
      assert.equal(later.value("rollcall_users_online"), 1);
      assert.equal(later.samples("rollcall_connections", { transport: "polling" }).reduce((n, s) => n + s.value, 0), 0);
      await closeSocket(ws);
    } finally {
      await rx.close();
    }
  });

  it("in a cluster: rollcall_redis_up, and /readyz names Redis while it is stopped", async () => {
    const redis = await startPrivateRedis();
    try {
      const cl = { port: redis.port, prefix: "rollcall-metrics", adapterKey: "sio-metrics", redisUrl: redis.url };
      const node = await startNode(cl, "m1", { leaseMs: 1000 });
      servers.push(node);
      await pollUntil(() => scrape(node), (x) => x.value("rollcall_redis_up") === 1, { ms: 5000, what: "redis up" });
      assert.equal((await api(node, "/readyz", { key: null })).status, 200);

      await redis.stop();
      const ready = await pollUntil(
        () => api(node, "/readyz", { key: null, ms: 8000 }),
        (r) => r.status === 503,
        { ms: 10000, what: "/readyz 503 with Redis stopped" },
      );
      assert.ok(ready.json.failing.some((f) => f.dependency === "redis"), ready.text);
      assert.equal((await api(node, "/healthz", { key: null })).status, 200, "alive all the same");
      const down = await scrape(node);
      assert.equal(down.value("rollcall_redis_up"), 0);
    } finally {
      await redis.stop();
    }
  });
});
