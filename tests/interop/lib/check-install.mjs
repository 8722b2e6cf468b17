// ctest `interop.npm_installed`: fails when the Node packages of the interop
// tests are not installed, or when the browser test cannot run (no Node.js
// >= 18 for playwright-core, no Debian chromium at /usr/bin/chromium), so
// that a missing `scripts/deps.sh --test` never passes silently.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The browser of browser.test.mjs (Debian's package `chromium`). */
const CHROMIUM = "/usr/bin/chromium";
const MIN_NODE_MAJOR = 18; // Debian 12 ships Node.js 18; playwright-core 1.61 supports it

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
const problems = [];

const missing = Object.keys(pkg.dependencies ?? {}).filter(
  (name) => !fs.existsSync(path.join(dir, "node_modules", name, "package.json")),
);
if (missing.length) {
  problems.push(
    `missing in ${path.join(dir, "node_modules")}: ${missing.join(", ")}\n` +
      "  install them with: bash scripts/deps.sh --test   (runs npm ci in tests/interop)",
  );
}

const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < MIN_NODE_MAJOR) {
  problems.push(`Node.js ${process.version} is too old: playwright-core needs Node.js >= ${MIN_NODE_MAJOR}`);
}

let chromiumVersion = null;
try {
  fs.accessSync(CHROMIUM, fs.constants.X_OK);
  chromiumVersion = execFileSync(CHROMIUM, ["--version"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 20000,
  }).trim();
  if (!chromiumVersion) throw new Error("printed no version");
} catch (err) {
  const why = err.code === "ENOENT" ? "not found" : (err.stderr?.toString().trim() || err.message);
  problems.push(
    `${CHROMIUM} is not usable (${why}); browser.test.mjs needs Debian's chromium\n` +
      "  install it with: bash scripts/deps.sh --test   (apt-get install chromium)",
  );
}

if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
for (const name of Object.keys(pkg.dependencies)) {
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8"));
  console.log(`${name} ${version}`);
}
console.log(`node ${process.version}`);
console.log(`${CHROMIUM}: ${chromiumVersion}`);
