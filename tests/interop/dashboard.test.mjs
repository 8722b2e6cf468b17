// The dashboard (/admin/) and the demo (/demo/) in Debian's headless
// Chromium, driven by playwright-core against `rollcalld --demo`: three
// tabs of one demo user and the dashboard's live counts as they close, the
// offline after the grace; the order flow with the detail only for admins
// and the order desk, and read state across a user's tabs. Any console
// error or page error fails the test. Screenshots go to
// tests/interop/artifacts/ (kept for inspection; not in git).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, describe, it } from "node:test";

import { chromium } from "playwright-core";

import { tempDir } from "./lib/rollcalld.mjs";
import { startServer } from "./lib/server.mjs";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WAIT_MS = 10000;  // every wait in a page has this deadline
const GRACE_MS = 1500;
const ADMIN = "/admin/#key=rollcall-demo-admin-key";
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "artifacts");

let browser;
let server;
let dir;
const pages = [];
const problems = [];  // console errors and page errors of every page

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = tempDir("rollcall-dashboard-");
  fs.writeFileSync(path.join(dir, "rollcall.toml"), `[server]\ndata_dir = "${dir}"\nthreads = 2\n[presence]\ngrace_ms = ${GRACE_MS}\n[log]\nlevel = "warn"\n`);
  server = await startServer({ bin: "rollcalld", args: ["--demo", "--config", path.join(dir, "rollcall.toml")] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30000 });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const p of pages.splice(0)) await p.close().catch(() => {});
  assert.deepEqual(problems.splice(0), [], "console errors or page errors");
});

/** A new page (own context: own sessionStorage) that records its problems. */
async function open(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on("pageerror", (err) => problems.push(`${url}: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${url}: console: ${msg.text()}`);
  });
  page.on("close", () => context.close().catch(() => {}));
  await page.goto(server.url + url);
  pages.push(page);
  return page;
}

/** Waits until the element's text is `expected`. */
async function textIs(page, testId, expected) {
  await page.waitForFunction(
    ([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent.trim() === want,
    [testId, String(expected)],
    { timeout: WAIT_MS },
  );
}

const text = async (page, testId) => (await page.locator(`[data-testid="${testId}"]`).textContent()).trim();

describe("the dashboard and the demo in Chromium", () => {
  it("counts three tabs of one user as one user, follows the tabs closing, then the offline after the grace", async () => {
    const dash = await open(ADMIN);
    await textIs(dash, "status", "connected");
    assert.equal(new URL(dash.url()).hash, "", "the key leaves the address bar");
    await textIs(dash, "online-users", "0");
    await textIs(dash, "connections", "0");  // the dashboard's own socket is not a user's

    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const tab = await open("/demo/#user=bugs");
      await textIs(tab, "status", "connected");
      tabs.push(tab);
    }
    for (const tab of tabs) await textIs(tab, "my-connections", "3");
    await textIs(dash, "online-users", "1");
    await textIs(dash, "connections", "3");
    await dash.locator('[data-testid="transition"]', { hasText: "user.online" }).filter({ hasText: "bugs" }).waitFor();
    assert.equal(await dash.locator("#login").isVisible(), false, "the key form is gone once signed in");
    // The user's connections, on a click.
    await dash.locator('[data-testid="users"] tr', { hasText: "bugs" }).click();
    await dash.waitForFunction(() => document.querySelectorAll("#detail-connections tr").length === 3, null, { timeout: WAIT_MS });
    await dash.screenshot({ path: path.join(ARTIFACTS, "dashboard-three-tabs.png"), fullPage: true });
    await tabs[0].screenshot({ path: path.join(ARTIFACTS, "demo-bugs.png"), fullPage: true });

    await tabs.pop().close();
    await textIs(dash, "connections", "2");
    await textIs(tabs[0], "my-connections", "2");
    await tabs.pop().close();
    await textIs(dash, "connections", "1");
    await textIs(dash, "online-users", "1");
    await tabs.pop().close();
    await textIs(dash, "connections", "0");
    // Still online during the grace; then offline, once.
    assert.equal(await text(dash, "online-users"), "1");
    await dash.waitForFunction(
      () => document.querySelector('[data-testid="online-users"]').textContent.trim() === "0",
      null,
      { timeout: GRACE_MS + WAIT_MS },
    );
    const offline = dash.locator('[data-testid="transition"]', { hasText: "user.offline" }).filter({ hasText: "bugs" });
    await offline.waitFor();
    assert.equal(await offline.count(), 1);
    await dash.screenshot({ path: path.join(ARTIFACTS, "dashboard-after-grace.png"), fullPage: true });
  });

  it("delivers an order to the right tabs with the detail only for admins and the order desk; read state follows a user's tabs", async () => {
    const foghorn = await open("/demo/#user=foghorn");      // looney-tunes admin
    const bugs = await open("/demo/#user=bugs");            // looney-tunes developer
    const minnie = await open("/demo/#user=minnie");        // disney order desk
    const minnie2 = await open("/demo/#user=minnie");
    for (const p of [foghorn, bugs, minnie, minnie2]) await textIs(p, "status", "connected");
    // Presence of the org, live: Bugs sees Foghorn online.
    await bugs.locator('[data-testid="member-foghorn"]', { hasText: "online" }).waitFor();
    const before = Number(await text(minnie2, "unread"));

    await minnie.click('[data-testid="place-order"]');
    for (const p of [foghorn, bugs, minnie, minnie2]) {
      await p.locator('[data-testid="notification"]', { hasText: "Acme Giant Rubber Band" }).first().waitFor();
    }
    const detail = (p) => p.locator('[data-testid="notification"]').first().locator('[data-testid="notification-detail"]');
    assert.equal(await detail(foghorn).count(), 1, "an admin sees the detail");
    assert.equal(await detail(minnie).count(), 1, "the order desk sees the detail");
    assert.match(await detail(minnie).textContent(), /order LT-\d+: 12 x 19\.99 USD/);
    assert.equal(await detail(bugs).count(), 0, "a developer does not");
    await textIs(minnie2, "unread", String(before + 1));
    await minnie.screenshot({ path: path.join(ARTIFACTS, "demo-order-minnie.png"), fullPage: true });
    await bugs.screenshot({ path: path.join(ARTIFACTS, "demo-order-bugs.png"), fullPage: true });

    // Mark all read in one of Minnie's tabs: the other follows.
    await minnie.click('[data-testid="mark-read"]');
    await textIs(minnie, "unread", "0");
    await textIs(minnie2, "unread", "0");
    assert.equal(Number(await text(foghorn, "unread")) > 0, true, "another user's unread is theirs");
  });
});
