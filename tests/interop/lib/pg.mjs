// The test PostgreSQL (127.0.0.1:$PG_PORT, started by scripts/services.sh;
// the tests FAIL without it), driven with psql, the real client.
//
//   const db = await freshDatabase("notify");   // { name, url, port }
//   await psql(db, "insert into rollcall_outbox (payload) values ('{}')");
//   const rows = await psql(db, "select id from rollcall_outbox");  // [["1"]]

import { execFile } from "node:child_process";

import { WAIT_MS, freePort, pollUntil } from "./util.mjs";

/** $PG_PORT as a number, or an Error telling how to start PostgreSQL. */
export function requirePgPort() {
  const raw = process.env.PG_PORT;
  if (!raw || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) {
    throw new Error(
      `PG_PORT is ${raw === undefined ? "not set" : `invalid (${JSON.stringify(raw)})`}: these tests need ` +
        "a PostgreSQL on 127.0.0.1:$PG_PORT. Start one with: bash scripts/services.sh start, " +
        "then run the tests with PG_PORT=15432",
    );
  }
  return Number(raw);
}

/**
 * Runs `sql` with psql on database `db` ({ name, port }); resolves with the
 * rows as arrays of strings (fields split on \x1f). Rejects on any error.
 */
export function psql(db, sql, { ms = WAIT_MS } = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      "psql",
      ["-h", "127.0.0.1", "-p", String(db.port), "-U", "postgres", "-d", db.name, "-v", "ON_ERROR_STOP=1",
        "-At", "-F", "\x1f", "-c", sql],
      { timeout: ms, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`psql: ${sql.slice(0, 200)}: ${stderr || err.message}`));
        resolve(stdout.split("\n").filter((l) => l !== "").map((l) => l.split("\x1f")));
      },
    );
  });
}

let counter = 0;

/** A new, empty database on the test server, dropped at `drop()`. */
export async function freshDatabase(name = "t") {
  const port = requirePgPort();
  const dbName = `rc_${name}_${process.pid}_${++counter}`.replace(/[^a-z0-9_]/g, "_");
  const admin = { name: "postgres", port };
  try {
    await psql(admin, "select 1");
  } catch (e) {
    throw new Error(`no PostgreSQL answers on 127.0.0.1:${port} (bash scripts/services.sh start): ${e.message}`);
  }
  await psql(admin, `create database ${dbName}`);
  return {
    name: dbName,
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/${dbName}`,
    drop: () => psql(admin, `drop database if exists ${dbName} with (force)`),
  };
}

/**
 * SQL that inserts outbox rows for `user` with data {i} for i = from ..
 * from + n - 1, of type `type`, in one statement.
 */
export function outboxRows(user, from, n, type = "row") {
  return (
    "insert into rollcall_outbox (payload) select jsonb_build_object('audience', jsonb_build_object('users', " +
    `jsonb_build_array(${literal(user)})), 'type', ${literal(type)}, 'data', jsonb_build_object('i', i)) ` +
    `from generate_series(${from}, ${from + n - 1}) as i`
  );
}

/** Resolves once rollcalld has made rollcall_outbox in `db` (at its start). */
export function waitForOutboxTable(db) {
  return pollUntil(
    () => psql(db, "select count(*) from pg_tables where tablename = 'rollcall_outbox'"),
    (rows) => rows[0][0] === "1",
    { what: "rollcall_outbox to exist" },
  );
}

/** A SQL string literal ('it''s'). */
export function literal(s) {
  return `'${String(s).replaceAll("'", "''")}'`;
}

function run(cmd, argv, { ms = 30000 } = {}) {
  return new Promise((resolve, reject) =>
    execFile(cmd, argv, { timeout: ms }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${argv.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

/**
 * A PostgreSQL of the test's own (for fault tests that stop it), on a free
 * loopback port, data in /tmp, owned by postgres. { port, url (database
 * rollcall), stop(), start(), destroy() }. Commits are synchronous, so an
 * immediate stop keeps what was committed.
 */
export async function startPrivatePostgres() {
  const fs = await import("node:fs");
  const bins = fs.readdirSync("/usr/lib/postgresql").sort().map((v) => `/usr/lib/postgresql/${v}/bin`);
  if (bins.length === 0) throw new Error("PostgreSQL is not installed (scripts/deps.sh --test)");
  const bin = bins[bins.length - 1];
  const port = await freePort();
  const dir = `/tmp/rollcall-pg-${process.pid}-${++counter}`;
  const asPostgres = process.getuid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const exec = (argv) => run(asPostgres[0] ?? argv[0], asPostgres.length ? [...asPostgres.slice(1), ...argv] : argv.slice(1));
  await run("install", ["-d", "-m", "0700", ...(process.getuid() === 0 ? ["-o", "postgres", "-g", "postgres"] : []), dir]);
  await exec([`${bin}/initdb`, "-D", `${dir}/data`, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]);
  const start = () =>
    exec([`${bin}/pg_ctl`, "-D", `${dir}/data`, "-l", `${dir}/pg.log`, "-w", "-t", "30", "-o",
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`, "start"]);
  const stop = () => exec([`${bin}/pg_ctl`, "-D", `${dir}/data`, "-m", "immediate", "-w", "-t", "30", "stop"]);
  await start();
  await psql({ name: "postgres", port }, "create database rollcall");
  return {
    port,
    name: "rollcall",
    url: `postgresql://postgres@127.0.0.1:${port}/rollcall`,
    start,
    stop,
    async destroy() {
      await stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
