// ctest `interop.npm_installed`: fails when the Node packages of the interop
// tests are not installed, so that a missing `npm ci` never passes silently.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
const missing = Object.keys(pkg.dependencies ?? {}).filter(
  (name) => !fs.existsSync(path.join(dir, "node_modules", name, "package.json")),
);

if (missing.length) {
  console.error(`missing in ${path.join(dir, "node_modules")}: ${missing.join(", ")}`);
  console.error("install them with: bash scripts/deps.sh --test   (runs npm ci in tests/interop)");
  process.exit(1);
}
for (const name of Object.keys(pkg.dependencies)) {
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8"));
  console.log(`${name} ${version}`);
}
