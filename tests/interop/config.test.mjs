// rollcalld configuration validation (docs/configuration.md "Validation"):
// a bad file or flag stops rollcalld with exit code 2 and one stderr line
// naming the file, the line:column and the key; nothing is served.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";

import { rsaKeyPair } from "./lib/jwt.mjs";
import { api, runRollcalld, startRollcalld, tempDir } from "./lib/rollcalld.mjs";
import { closeAll, pollUntil } from "./lib/server.mjs";

const PREFIX = "rollcalld: configuration error: ";

describe("rollcalld configuration errors", () => {
  let dir;
  let n = 0;
  before(() => {
    dir = tempDir();
  });
  afterEach(closeAll);

  function writeConfig(text) {
    const file = path.join(dir, `bad-${++n}.toml`);
    fs.writeFileSync(file, text);
    return file;
  }

  /** Runs rollcalld; asserts exit code 2, nothing served; returns the stderr line (without the prefix). */
  async function refuses(args, what) {
    const r = await runRollcalld(args, { ms: 5000 });
    assert.equal(r.code, 2, `${what}: exit code ${r.code} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.doesNotMatch(r.stdout, /listening \d+/, `${what}: the server started`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${what}: one line expected on stderr, got:\n${r.stderr}`);
    assert.ok(lines[0].startsWith(PREFIX), `${what}: ${lines[0]}`);
    return lines[0].slice(PREFIX.length);
  }

  /** A bad file: the message is `<file>:<line>:<col>: <detail>`. */
  async function refusesFile(text, what) {
    const file = writeConfig(text);
    const msg = await refuses(["--config", file, "--listen", "127.0.0.1:0"], what);
    assert.ok(msg.startsWith(`${file}:`), `${what}: the message does not name the file ${file}: ${msg}`);
    const m = /^(\d+):(\d+): (.*)$/.exec(msg.slice(file.length + 1));
    assert.ok(m, `${what}: no line:col after the file name: ${msg}`);
    return { line: Number(m[1]), col: Number(m[2]), detail: m[3], msg };
  }

  it('an unknown key: "did you mean webhooks.url?"', async () => {
    const r = await refusesFile('[presence]\ngrace_ms = 100\n\n[webhooks]\nurll = "http://127.0.0.1:9/hook"\n', "webhooks.urll");
    assert.equal(r.line, 5);
    assert.equal(r.col, 1);
    assert.equal(r.detail, "webhooks.urll: unknown key; did you mean webhooks.url?");
    const t = await refusesFile("[serverr]\nthreads = 1\n", "unknown table");
    assert.match(t.detail, /^serverr: unknown key; did you mean server\?$/);
    const k = await refusesFile("[server]\ntreads = 1\n", "server.treads");
    assert.match(k.detail, /server\.treads: unknown key; did you mean server\.threads\?/);
  });

  it("a wrong type names the key, the expected type and the TOML type found", async () => {
    const cases = [
      ['[server]\nthreads = "four"\n', 2, /^server\.threads: expected an integer, got string$/],
      ["[server]\nthreads = 2.5\n", 2, /^server\.threads: expected an integer, got float$/],
      ['[presence]\ngrace_ms = "5s"\n', 2, /^presence\.grace_ms: expected an integer, got string$/],
      ["[server]\ncors_credentials = 1\n", 2, /^server\.cors_credentials: expected a boolean, got integer$/],
      ["[rooms]\nclient_join = \"chat:*\"\n", 2, /^rooms\.client_join: expected an array of strings, got string$/],
      ["[auth]\nsession_secret = 5\n", 2, /^auth\.session_secret: expected a string or an array of strings, got integer$/],
      ["[webhooks]\nurl = 1\n", 2, /^webhooks\.url: expected a string, got integer$/],
      ["server = 1\n", 1, /^server: /],
    ];
    for (const [text, line, re] of cases) {
      const r = await refusesFile(text, text.trim());
      assert.equal(r.line, line, `${text.trim()}: ${r.msg}`);
      assert.match(r.detail, re, `${text.trim()}: ${r.msg}`);
    }
  });

  it('auth.jwt_algorithm "none" (and other unknown algorithms) is refused', async () => {
    const r = await refusesFile('[auth]\njwt_secret = "0123456789abcdef0123"\njwt_algorithm = "none"\n', "none");
    assert.equal(r.line, 3);
    assert.match(r.detail, /^auth\.jwt_algorithm: 'none' is refused/);
    const lower = await refusesFile('[auth]\njwt_algorithm = "hs256"\n', "hs256");
    assert.match(lower.detail, /^auth\.jwt_algorithm: /);
    const hs512 = await refusesFile('[auth]\njwt_algorithm = "HS512"\n', "HS512");
    assert.match(hs512.detail, /^auth\.jwt_algorithm: /);
  });

  it("webhooks.url without webhooks.secret is refused, without echoing the URL", async () => {
    const r = await refusesFile('[webhooks]\nurl = "http://user:pa55w0rd@127.0.0.1:9/hook"\n', "url without secret");
    assert.equal(r.line, 2);
    assert.match(r.detail, /^webhooks\.url: .*webhooks\.secret/);
    assert.ok(!r.msg.includes("pa55w0rd"), `the URL's credentials were echoed: ${r.msg}`);
  });

  it("secrets are never echoed", async () => {
    const r = await refusesFile('[auth]\njwt_secret = "tooShortSecret"\n', "short jwt_secret");
    assert.match(r.detail, /^auth\.jwt_secret: /);
    assert.ok(!r.msg.includes("tooShortSecret"), r.msg);
    const k = await refusesFile('[api]\nkey = "shortApiKey"\n', "short api.key");
    assert.match(k.detail, /^api\.key: /);
    assert.ok(!k.msg.includes("shortApiKey"), k.msg);
  });

  it("other documented limits and cross-key rules", async () => {
    const cases = [
      ["[server]\nthreads = 300\n", /^server\.threads: must be between 0 and 255, got 300$/],
      ["[server]\nmax_payload = 0\n", /^server\.max_payload: must be between 1 and 67108864, got 0$/],
      ['[server]\npath = "socket.io"\n', /^server\.path: /],
      ['[server]\nlisten = "127.0.0.1:99999"\n', /^server\.listen: /],
      ["[presence]\ngrace_ms = -1\n", /^presence\.grace_ms: /],
      ["[webhooks]\nbackoff_min_ms = 500\nbackoff_max_ms = 100\n", /^webhooks\.backoff_min_ms: must not exceed webhooks\.backoff_max_ms \(100\), got 500$/],
      ['[webhooks]\nurl = "ftp://127.0.0.1/x"\nsecret = "s3cret"\n', /^webhooks\.url: /],
      ['[store]\nurl = "redis://127.0.0.1:6379"\n', /^store\.url: unsupported store scheme 'redis:'/],
      ['[auth]\njwt_algorithm = "RS256"\n', /^auth\.jwt_algorithm: .*jwt_public_key_file/],
      ['[auth]\njwt_algorithm = "RS256"\njwt_public_key_file = "/nonexistent/jwt.pem"\n', /^auth\.jwt_public_key_file: /],
      ['[rooms]\nclient_join = ["chat:*", ""]\n', /^rooms\.client_join/],
      ['[log]\nlevel = "verbose"\n', /^log\.level: /],
    ];
    for (const [text, re] of cases) {
      const r = await refusesFile(text, text.trim());
      assert.match(r.detail, re, `${text.trim()}: ${r.msg}`);
    }
  });

  it("a TOML syntax error is reported with the file and line:col", async () => {
    const r = await refusesFile('[server]\nthreads = 2\nlisten = "127.0.0.1:0" "x"\n', "two strings");
    assert.equal(r.line, 3);
    assert.ok(r.col > 1);
    const dup = await refusesFile("[server]\nthreads = 1\nthreads = 2\n", "duplicate key");
    assert.equal(dup.line, 3);
    const open = await refusesFile('[server\nthreads = 1\n', "unterminated table header");
    assert.equal(open.line, 1);
    const str = await refusesFile('[webhooks]\nsecret = "unterminated\n', "unterminated string");
    assert.equal(str.line, 2);
  });

  it("a missing config file is refused, naming the file", async () => {
    const file = path.join(dir, "does-not-exist.toml");
    const msg = await refuses(["--config", file], "missing file");
    assert.ok(msg.startsWith(`${file}: `), msg);
    assert.match(msg, /cannot read/);
    const asDir = await refuses(["--config", dir], "a directory");
    assert.ok(asDir.startsWith(`${dir}`), asDir);
  });

  it("bad command-line values are refused like file values: --listen 127.0.0.1:99999, --threads 300", async () => {
    for (const [args, re] of [
      [["--listen", "127.0.0.1:99999"], /server\.listen: .*99999/],
      [["--listen", "127.0.0.1"], /server\.listen: /],
      [["--listen", "127.0.0.1:0", "--threads", "300"], /server\.threads: must be between 0 and 255, got 300/],
      [["--listen", "127.0.0.1:0", "--log-level", "loud"], /log\.level: /],
    ]) {
      const msg = await refuses(args, args.join(" "));
      assert.match(msg, re, `${args.join(" ")}: ${msg}`);
    }
    // a flag wins over the file, and is checked the same way
    const file = writeConfig("[server]\nthreads = 3\n");
    const msg = await refuses(["--config", file, "--listen", "127.0.0.1:0", "--threads", "300"], "flag over file");
    assert.match(msg, /server\.threads: must be between 0 and 255, got 300/);
  });

  describe("valid configurations start", () => {
    let server;
    after(async () => {
      await server?.stop();
      server?.cleanup();
    });

    it("the example of docs/configuration.md (with local paths) starts and serves", async () => {
      const d = tempDir();
      const pem = path.join(d, "jwt.pub.pem");
      fs.writeFileSync(pem, rsaKeyPair().publicKey);
      const toml = `[server]
listen = "0.0.0.0:3000"
threads = 4
cors_origins = ["https://app.example.com"]
cors_credentials = true
recovery_ms = 120000
data_dir = ${JSON.stringify(d)}

[auth]
jwt_algorithm = "RS256"
jwt_public_key_file = ${JSON.stringify(pem)}
jwt_issuer = "https://auth.example.com"
jwt_audience = "rollcall"
session_secret = ["current secret", "previous secret"]   # or one string
session_redis_url = "redis://127.0.0.1:6379/0"

[presence]
grace_ms = 5000

[webhooks]
url = "https://hooks.example.com/rollcall"
secret = "a long random string"

[api]
key = "another long random string"

[rooms]
client_join = ["public:*", "team-?"]

[log]
level = "info"
`;
      server = await startRollcalld({ dir: d, config: toml }); // --listen 127.0.0.1:0 overrides the file
      assert.equal((await api(server, "/healthz", { key: null })).status, 200);
      assert.equal((await api(server, "/v1/presence/users/x", { key: "another long random string" })).status, 200);
    });

    it("an empty file is valid", async () => {
      const d = tempDir();
      const empty = await startRollcalld({ dir: d, config: "", args: ["--data-dir", d] });
      try {
        assert.equal((await api(empty, "/healthz", { key: null })).status, 200);
        assert.equal((await api(empty, "/v1/presence/users/x")).status, 403, "API off without api.key");
      } finally {
        await empty.stop();
        empty.cleanup();
      }
    });
  });
});

describe("configuration tooling (--check-config, --print-config, environment)", () => {
  let dir;
  before(() => {
    dir = tempDir();
  });
  afterEach(closeAll);

  function write(name, text) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  it("--check-config exits 0 for a valid file and 2 with the error for a bad one, serving nothing", async () => {
    const good = write("good.toml", '[server]\nthreads = 2\n[auth]\njwt_secret = "a secret of 16 or more bytes"\n');
    const ok = await runRollcalld(["--check-config", good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), `${good}: ok`);
    const bad = write("bad.toml", "[server]\nthreads = 300\n");
    const no = await runRollcalld(["--check-config", bad]);
    assert.equal(no.code, 2);
    assert.equal(no.stderr.trim(), `${PREFIX}${bad}:2:11: server.threads: must be between 0 and 255, got 300`);
    const missing = await runRollcalld(["--check-config", path.join(dir, "nope.toml")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.toml: cannot read/);
  });

  it("--print-config shows the effective values (file, environment, flags) with secrets masked", async () => {
    const file = write(
      "secrets.toml",
      [
        "[server]",
        "threads = 2",
        "[auth]",
        'jwt_secret = "jwt-secret-that-must-not-show"',
        "[webhooks]",
        'url = "https://hooks.example.com/x"',
        'secret = "webhook-secret-that-must-not-show"',
        "[api]",
        'key = "api-key-that-must-not-show"',
        "[cluster]",
        'redis_url = "redis://user:redis-password-that-must-not-show@127.0.0.1:6379/0"',
        "",
      ].join("\n"),
    );
    const r = await runRollcalld(["--config", file, "--print-config", "--threads", "3"], {
      env: { ROLLCALL_STORE_URL: "postgresql://app:pg-password-that-must-not-show@db:5432/app" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /must-not-show/);
    assert.match(r.stdout, /jwt_secret = '\*\*\*'/);
    assert.match(r.stdout, /key = '\*\*\*'/);
    assert.match(r.stdout, /redis_url = 'redis:\/\/user:\*\*\*@127\.0\.0\.1:6379\/0'/);
    assert.match(r.stdout, /url = 'postgresql:\/\/app:\*\*\*@db:5432\/app'/);
    assert.match(r.stdout, /threads = 3/); // the flag wins over the file
    assert.match(r.stdout, /grace_ms = 5000/); // defaults are shown too
  });

  it("takes secrets from ROLLCALL_<SECTION>_<KEY> environment variables", async () => {
    const key = "api-key-from-the-environment-0123";
    const server = await startRollcalld({
      config: { server: { threads: 1 }, log: { level: "warn" } },
      env: { ROLLCALL_API_KEY: key },
    });
    try {
      assert.equal((await api(server, "/v1/presence/users/x", { key })).status, 200);
      assert.equal((await api(server, "/v1/presence/users/x")).status, 401);
    } finally {
      await server.stop();
      server.cleanup();
    }
    // Checked like the file's values.
    const r = await runRollcalld(["--print-config"], { env: { ROLLCALL_API_KEY: "short" } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /api\.key: too short/);
  });

  it("log.format = \"json\" writes one JSON object per line, with an access line per API call", async () => {
    const server = await startRollcalld({
      config: { server: { threads: 1 }, api: { key: "api-key-for-the-log-test-0123" }, log: { level: "info", format: "json" } },
    });
    try {
      // A path with a newline, a quote and a byte that is not UTF-8: still one valid line.
      const odd = await api(server, "/v1/presence/users/%0a%22x%ff", { key: "api-key-for-the-log-test-0123" });
      assert.equal(odd.status, 400);
      assert.equal((await api(server, "/v1/presence/users/ann", { key: "api-key-for-the-log-test-0123" })).status, 200);
      await pollUntil(() => server.output().stderr, (err) => err.includes("/v1/presence/users/ann 200"), {
        what: "the access line",
      });
    } finally {
      await server.stop();
      server.cleanup();
    }
    const lines = server.output().stderr.split("\n").filter((l) => l !== "");
    assert.ok(lines.length >= 3);
    for (const line of lines) {
      const o = JSON.parse(line); // throws on a line that is not JSON
      assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(["trace", "debug", "info", "warning", "error", "critical"].includes(o.level), line);
      assert.equal(typeof o.msg, "string");
    }
    assert.ok(
      lines.some((l) => /^api GET \/v1\/presence\/users\/\?"x\u00ff 400 /.test(JSON.parse(l).msg)),
      "the odd path is logged on one line, the newline replaced",
    );
    const refused = await runRollcalld(["--print-config"], { env: { ROLLCALL_LOG_FORMAT: "xml" } });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /log\.format: must be text or json, got 'xml'/);
  });

  it("docs/configuration.md documents every key rollcalld knows, and no other", async () => {
    const r = await runRollcalld(["--print-config"]);
    assert.equal(r.code, 0, r.stderr);
    const known = new Set();
    let table = null;
    for (const line of r.stdout.split("\n")) {
      const t = /^\[(\w+)\]$/.exec(line);
      if (t) table = t[1];
      const k = /^(\w+) = /.exec(line);
      if (k && table) known.add(`${table}.${k[1]}`);
    }
    const docFile = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../docs/configuration.md");
    const documented = new Set();
    table = null;
    for (const line of fs.readFileSync(docFile, "utf8").split("\n")) {
      const t = /^### `\[(\w+)\]`/.exec(line);
      if (t) table = t[1];
      else if (/^#/.test(line)) table = table && /^####/.test(line) ? table : null;
      const k = /^\| `(\w+)` \|/.exec(line);
      if (k && table) documented.add(`${table}.${k[1]}`);
    }
    const undocumented = [...known].filter((k) => !documented.has(k));
    const stale = [...documented].filter((k) => !known.has(k));
    assert.deepEqual(undocumented, [], "keys without a row in docs/configuration.md");
    assert.deepEqual(stale, [], "rows in docs/configuration.md for keys rollcalld does not know");
    assert.ok(known.size > 50, `${known.size} keys`);
  });
});
