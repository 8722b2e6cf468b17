#!/usr/bin/env bash
# The notifications demo (docs/notifications.md, "Demo"): against a
# `rollcalld --demo` (bash scripts/serve.sh --demo), Minnie Mouse at
# Disney's order desk buys from Looney Tunes; both organisations are told,
# and only admins and the order desk see the order's detail. Prints what
# each demo user got (their newest notification, from their history).
#   scripts/demo-order.sh [URL]      default http://127.0.0.1:3000
# ROLLCALL_API_KEY overrides the demo API key.
set -euo pipefail

URL="${1:-${ROLLCALL_URL:-http://127.0.0.1:3000}}"
KEY="${ROLLCALL_API_KEY:-rollcall-demo-api-key}"

exec node --input-type=module - "$URL" "$KEY" <<'JS'
const [url, key] = process.argv.slice(2);
const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
async function call(method, path, body) {
  const res = await fetch(url + path, {
    method, headers, body: body && JSON.stringify(body), signal: AbortSignal.timeout(5000),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
const order = {
  audience: { orgs: ["looney-tunes", "disney"] },
  type: "order.placed",
  data: { product: "Acme Giant Rubber Band", buyer: "Minnie Mouse", seller: "Looney Tunes" },
  detail: { order: "LT-1042", quantity: 12, unit_price: 19.99, currency: "USD" },
  detail_roles: ["admin", "order-desk"],
};
try {
  const placed = await call("POST", "/v1/notifications", order);
  console.log(`order placed: notification ${placed.id}, stored for ${placed.recipients} users\n`);
  const users = [
    ["foghorn", "Foghorn Leghorn", "looney-tunes", "admin"],
    ["daffy", "Daffy Duck", "looney-tunes", "admin"],
    ["bugs", "Bugs Bunny", "looney-tunes", "developer"],
    ["mickey", "Mickey Mouse", "disney", "admin"],
    ["minnie", "Minnie Mouse", "disney", "order-desk"],
  ];
  for (const [id, name, org, role] of users) {
    const page = await call("GET", `/v1/users/${id}/notifications?limit=1`);
    const n = page.items.find((item) => item.id === placed.id);
    const what = !n ? "nothing" : n.detail ? `the order with detail ${JSON.stringify(n.detail)}` : "the order, without its detail";
    console.log(`${name.padEnd(16)} ${`${org}/${role}`.padEnd(24)} got ${what} (${page.unread} unread)`);
  }
} catch (e) {
  console.error(`demo-order.sh: ${e.message}\n(is \`rollcalld --demo\` running at ${url}? start it with: bash scripts/serve.sh --demo)`);
  process.exit(1);
}
JS
