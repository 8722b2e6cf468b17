// The test PostgreSQL (127.0.0.1:$PG_PORT, started by scripts/services.sh;
// the tests FAIL without it), driven with psql, the real client.
//
//   const db = await freshDatabase("notify");   // { name, url, port }
//   await psql(db, "insert into rollcall_outbox (payload) values ('{}')");
//   const rows = await psql(db, "select id from rollcall_outbox");  // [["1"]]

import { execFile } from "node:child_process";

import { WAIT_MS } from "./util.mjs";

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

/** A SQL string literal ('it''s'). */
export function literal(s) {
  return `'${String(s).replaceAll("'", "''")}'`;
}
