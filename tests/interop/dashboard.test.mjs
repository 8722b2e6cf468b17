// The dashboard (/admin/) and the demo (/demo/) in Debian's headless
// Chromium, driven by playwright-core against `rollcalld --demo`: three
// tabs of one demo user and the dashboard's live counts as they close, the
// offline after the grace; the order flow with the detail only for admins
// and the order desk, and read state across a user's tabs; the key form.
// Any console error or page error fails the test it happens in. Screenshots
// go to tests/interop/artifacts/ (kept for inspection; not in git).
//
// Every wait has a deadline (WAIT_MS, set as the pages' default timeout and
// passed to each waitForFunction); no sleep is used to synchronise.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, describe, it } from "node:test";

import { chromium } from "playwright-core";

import { startRollcalld } from "./lib/rollcalld.mjs";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const LAUNCH_MS = 30000;
const WAIT_MS = 10000;  // every wait in a page has this deadline
const TEST_MS = 90000;
const GRACE_MS = 2000;
const ADMIN_KEY = "rollcall-demo-admin-key";  // --demo's, as the config sets none
const ADMIN = `/admin/#key=${ADMIN_KEY}`;
const PRODUCT = "Acme Giant Rubber Band";
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "artifacts");

let browser = null;
let server = null;
let base = "";  // the server's http://127.0.0.1:<port>
const contexts = [];
const problems = [];  // console errors and page errors of every page

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // No auth/api/admin table: --demo brings its own secrets (the demo's
  // JWT secret, API key and admin key); data_dir is the fresh temp dir.
  server = await startRollcalld({
    config: { server: { threads: 2 }, presence: { grace_ms: GRACE_MS }, log: { level: "warn" } },
    args: ["--demo"],
  });
  base = server.url;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: LAUNCH_MS });
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    try {
      await server?.stop();
    } finally {
      server?.cleanup();
    }
  }
});

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close().catch(() => {});
  assert.deepEqual(problems.splice(0), [], "console errors or page errors");
});

/** Records the page's console errors and page errors into `problems`. */
function watch(page, name) {
  page.on("pageerror", (err) => problems.push(`${name}: page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${name}: console error: ${msg.text()}`);
  });
}

/** A new page in its own browser context (own sessionStorage), watched. */
async function open(url, { init } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  watch(page, url);
  await page.goto(base + url);
  return page;
}

const sel = (testId) => `[data-testid="${testId}"]`;

/** Waits until the element's trimmed text is `expected`. */
async function textIs(page, testId, expected, timeout = WAIT_MS) {
  try {
    await page.waitForFunction(
      ([s, want]) => document.querySelector(s)?.textContent.trim() === want,
      [sel(testId), String(expected)],
      { timeout },
    );
  } catch (e) {
    const now = await page.locator(sel(testId)).textContent({ timeout: 1000 }).catch(() => "(absent)");
    throw new Error(`${page.url()}: ${testId} is "${now?.trim()}", expected "${expected}" within ${timeout} ms (${e.message.split("\n")[0]})`);
  }
}

const text = async (page, testId) => (await page.locator(sel(testId)).textContent()).trim();

/** The admin API, from the test process. */
async function admin(pathAndQuery) {
  const res = await fetch(`${base}/v1/admin/${pathAndQuery}`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
    signal: AbortSignal.timeout(WAIT_MS),
  });
  assert.equal(res.status, 200, `GET /v1/admin/${pathAndQuery}`);
  return res.json();
}

// Runs in the dashboard before its scripts: every value the two counts
// take, with the time it was shown, in window.__counts.
const RECORD_COUNTS = () => {
  window.__counts = [];
  const record = () => {
    const online = document.querySelector('[data-testid="online-users"]');
    const connections = document.querySelector('[data-testid="connections"]');
    if (!online || !connections) return;
    const sample = { online: online.textContent.trim(), connections: connections.textContent.trim() };
    const last = window.__counts[window.__counts.length - 1];
    if (!last || last.online !== sample.online || last.connections !== sample.connections) {
      window.__counts.push({ ...sample, t: performance.now() });
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
};

describe("the dashboard and the demo in Chromium", { timeout: TEST_MS * 3 }, () => {
  it("dashboard counts three tabs of one demo user, then the offline after the grace", { timeout: TEST_MS }, async () => {
    const dash = await open(ADMIN, { init: RECORD_COUNTS });
    await textIs(dash, "status", "connected");
    assert.equal(new URL(dash.url()).hash, "", "the key leaves the address bar");
    assert.equal(await dash.evaluate(() => sessionStorage.getItem("rollcall-admin-key")), ADMIN_KEY, "the key is kept in the tab");
    // Only the dashboard is connected: nobody online, no connection, in
    // the page and for the server.
    await dash.waitForFunction(() => document.getElementById("node-id").textContent !== "-", null, { timeout: WAIT_MS });  // the first stats
    await textIs(dash, "online-users", "0");
    await textIs(dash, "connections", "0");
    assert.deepEqual(await admin("stats").then((s) => [s.online, s.connections]), [0, 0]);
    assert.deepEqual((await admin("users?online=true")).users, []);

    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const tab = await open("/demo/#user=bugs");
      await textIs(tab, "status", "connected");
      tabs.push(tab);
    }
    for (const tab of tabs) await textIs(tab, "my-connections", "3");
    await textIs(dash, "online-users", "1");
    await textIs(dash, "connections", "3");
    await dash.locator(sel("transition"), { hasText: "user.online" }).filter({ hasText: "bugs" }).waitFor();
    assert.equal(await dash.locator("#login").isVisible(), false, "the key form is hidden once signed in");
    await dash.locator(`${sel("users")} tr`, { hasText: "bugs" }).waitFor();
    // The user's connections, on a click: three sockets.
    await dash.locator(`${sel("users")} tr`, { hasText: "bugs" }).click();
    await dash.waitForFunction(
      () => document.querySelectorAll('[data-testid="user-connections"] tr').length === 3,
      null,
      { timeout: WAIT_MS },
    );
    await dash.screenshot({ path: path.join(ARTIFACTS, "dashboard-three-tabs.png"), fullPage: true });
    await tabs[0].screenshot({ path: path.join(ARTIFACTS, "demo-bugs.png"), fullPage: true });

    // The tabs close one by one.
    await tabs.pop().close();
    await textIs(dash, "connections", "2");
    for (const tab of tabs) await textIs(tab, "my-connections", "2");
    await tabs.pop().close();
    await textIs(dash, "connections", "1");
    await textIs(tabs[0], "my-connections", "1");
    await textIs(dash, "online-users", "1");
    await tabs.pop().close();
    await textIs(dash, "connections", "0");
    // Still online during the grace; offline after it, once.
    assert.equal(await text(dash, "online-users"), "1", "online during the grace");
    await textIs(dash, "online-users", "0", GRACE_MS + WAIT_MS);
    const offline = dash.locator(sel("transition"), { hasText: "user.offline" }).filter({ hasText: "bugs" });
    await offline.waitFor();
    assert.equal(await offline.count(), 1, "one offline transition");
    await dash.waitForFunction(() => document.querySelectorAll('[data-testid="users"] tr[data-user]').length === 0, null, { timeout: WAIT_MS });
    await dash.screenshot({ path: path.join(ARTIFACTS, "dashboard-after-grace.png"), fullPage: true });

    // Every value the counts took: never the dashboard's own socket
    // (never more than the three tabs, 0 connections with nobody online),
    // and the offline no sooner than the grace after the last tab closed.
    const counts = await dash.evaluate(() => window.__counts);
    const seen = counts.map((c) => `${c.online}/${c.connections}`);
    assert.ok(counts.every((c) => Number(c.connections) <= 3 && Number(c.online) <= 1), `counts seen: ${seen.join(" ")}`);
    assert.ok(counts.every((c) => c.online !== "0" || c.connections === "0"), `counts seen: ${seen.join(" ")}`);
    assert.deepEqual(seen.slice(-2), ["1/0", "0/0"], `counts seen: ${seen.join(" ")}`);
    const lastClosed = counts.at(-2).t;
    const wentOffline = counts.at(-1).t;
    assert.ok(wentOffline - lastClosed >= GRACE_MS - 400, `offline ${Math.round(wentOffline - lastClosed)} ms after the last tab closed (grace ${GRACE_MS} ms)`);
    assert.deepEqual(await admin("stats").then((s) => [s.online, s.connections]), [0, 0], "the dashboard is still connected and not counted");
    await textIs(dash, "status", "connected");
  });

  it("demo order flow shows the detail only to admins and the order desk", { timeout: TEST_MS }, async () => {
    const foghorn = await open("/demo/#user=foghorn");  // looney-tunes admin
    const bugs = await open("/demo/#user=bugs");        // looney-tunes developer
    const minnie = await open("/demo/#user=minnie");    // disney order desk
    const minnie2 = await open("/demo/#user=minnie");   // a second tab of hers
    const tabs = { foghorn, bugs, minnie, minnie2 };
    for (const p of Object.values(tabs)) await textIs(p, "status", "connected");
    await textIs(minnie, "my-connections", "2");
    await textIs(minnie2, "my-connections", "2");
    // Each sees their own organisation, live.
    await bugs.locator(sel("member-foghorn"), { hasText: "online" }).waitFor();
    await foghorn.locator(sel("member-bugs"), { hasText: "online" }).waitFor();
    await minnie.locator(sel("member-minnie"), { hasText: "online" }).waitFor();
    assert.equal(await minnie.locator(sel("member-bugs")).count(), 0, "Bugs is not in Disney");
    await bugs.locator(sel("member-daffy"), { hasText: "offline" }).waitFor();

    const unreadBefore = {};
    for (const [name, p] of Object.entries(tabs)) unreadBefore[name] = Number(await text(p, "unread"));

    await minnie.click(sel("place-order"));
    for (const p of Object.values(tabs)) {
      await p.locator(sel("notification"), { hasText: PRODUCT }).filter({ hasText: "order.placed" }).first().waitFor();
    }
    for (const [name, p] of Object.entries(tabs)) await textIs(p, "unread", unreadBefore[name] + 1);
    const detail = (p) => p.locator(sel("notification")).first().locator(sel("notification-detail"));
    assert.equal(await detail(foghorn).count(), 1, "an admin sees the detail");
    assert.equal(await detail(minnie).count(), 1, "the order desk sees the detail");
    assert.equal(await detail(minnie2).count(), 1, "in each of her tabs");
    assert.match(await detail(minnie).textContent(), /order LT-\d+: 12 x 19\.99 USD/);
    assert.equal(await detail(bugs).count(), 0, "a developer does not");
    assert.equal(await bugs.locator(sel("notification-detail")).count(), 0, "nowhere in the developer's page");
    await minnie.screenshot({ path: path.join(ARTIFACTS, "demo-order-minnie.png"), fullPage: true });
    await bugs.screenshot({ path: path.join(ARTIFACTS, "demo-order-bugs.png"), fullPage: true });

    // Mark all read in one of Minnie's tabs: the other follows; the others' stay.
    await minnie.click(sel("mark-read"));
    await textIs(minnie, "unread", "0");
    await textIs(minnie2, "unread", "0");
    assert.equal(await text(foghorn, "unread"), String(unreadBefore.foghorn + 1), "another user's unread is theirs");
    assert.equal(await text(bugs, "unread"), String(unreadBefore.bugs + 1));
  });

  it("dashboard asks for the key without one, refuses a wrong one, opens with the right one", { timeout: TEST_MS }, async () => {
    const dash = await open("/admin/");
    await dash.locator("#login").waitFor({ state: "visible" });
    await textIs(dash, "status", "disconnected");

    await dash.fill("#key", "not-the-key");
    await dash.click('#login [type="submit"]');
    await dash.locator("#login-error", { hasText: "refused" }).waitFor();
    await textIs(dash, "status", "disconnected");
    assert.equal(await dash.evaluate(() => sessionStorage.getItem("rollcall-admin-key")), null, "a refused key is not kept");

    await dash.fill("#key", ADMIN_KEY);
    await dash.click('#login [type="submit"]');
    await textIs(dash, "status", "connected");
    await textIs(dash, "online-users", "0");
    // The tab keeps the key: a reload opens the dashboard again.
    await dash.reload();
    await textIs(dash, "status", "connected");
    assert.equal(await dash.locator("#login").isVisible(), false);
  });
});
