// @ts-check
/**
 * PostgreSQL for the bench: whether the server answers, a fresh database per target (dropped
 * after it), and the rows the gateway left in it. The server is the one the tests use
 * (test/pg.ts): B24GW_TEST_PG or postgres://postgres@127.0.0.1:5432/test.
 */
import { randomBytes } from 'node:crypto';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { URL } from 'node:url';
import pg from 'pg';

export const pgAdminUrl = process.env.B24GW_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * One query on a short-lived admin connection; `fallback` (given the error) when the server does not answer.
 * @template T
 * @param {string} sql
 * @param {(rows: Record<string, unknown>[]) => T} read
 * @param {(e: unknown) => T} fallback
 * @returns {Promise<T>}
 */
async function adminQuery(sql, read, fallback) {
  const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    return read((await client.query(sql)).rows);
  } catch (e) {
    return fallback(e);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * null when the server answers, else why not (for the skip line).
 * @returns {Promise<string | null>}
 */
export const pgUnreachable = () =>
  adminQuery(
    'SELECT 1',
    () => null,
    (e) => /** @type {Error} */ (e).message || String(e),
  );

/** The server's version string, for the machine description. */
export const pgVersion = () =>
  adminQuery(
    'SHOW server_version',
    (rows) => String(rows[0]?.server_version ?? 'unknown'),
    () => 'unreachable',
  );

/** The server's durability settings that decide what a commit costs. */
export const pgSettings = () =>
  adminQuery(
    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'max_connections', 'shared_buffers')",
    (rows) =>
      /** @type {Record<string, string>} */ (Object.fromEntries(rows.map((x) => [String(x.name), String(x.setting)]))),
    () => /** @type {Record<string, string>} */ ({}),
  );

/** Drops of the databases made and not yet dropped, for an interrupted run. */
const live = new Map();

/** Drops every database this process made and has not dropped yet (on Ctrl+C); at most 10 s. */
export async function dropAllDatabases() {
  const drops = [...live.values()].map((d) => d().catch(() => undefined));
  await Promise.race([Promise.all(drops), new Promise((r) => setTimeout(r, 10_000).unref())]);
}

/**
 * A fresh database `b24gw_bench_<random>`; drop() removes it (WITH (FORCE): ends leftover sessions).
 * @returns {Promise<{ name: string, url: string, drop: () => Promise<void> }>}
 */
export async function freshDatabase() {
  const name = `b24gw_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  const drop = async () => {
    live.delete(name);
    const c = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 5_000 });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  };
  live.set(name, drop);
  return { name, url: url.toString(), drop };
}

/**
 * Rows in the gateway's `events` table and how many no worker has finished yet, plus the
 * status outbox (rows, not yet sent, given up). Zeros when the tables do not exist (nothing arrived).
 * @param {string} url
 * @returns {Promise<import('./targets.js').StoredRows>}
 */
export async function countPgRows(url) {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    const has = async (/** @type {string} */ t) =>
      (await c.query('SELECT to_regclass($1) AS t', [t])).rows[0]?.t !== null;
    if (!(await has('events'))) return { rows: 0, unprocessed: null, byStatus: {}, outbox: null };
    const grouped = (await c.query('SELECT status, COUNT(*)::int AS n FROM events GROUP BY status')).rows;
    /** @type {Record<string, number>} */
    const byStatus = Object.fromEntries(grouped.map((x) => [String(x.status), Number(x.n)]));
    const rows = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const unprocessed = (byStatus.pending ?? 0) + (byStatus.retry ?? 0) + (byStatus.processing ?? 0);
    let outbox = null;
    if (await has('status_outbox')) {
      const o = (
        await c.query(
          "SELECT COUNT(*)::int AS rows, COUNT(*) FILTER (WHERE status IN ('pending', 'sending'))::int AS unsent, COUNT(*) FILTER (WHERE status = 'dead')::int AS dead FROM status_outbox",
        )
      ).rows[0];
      outbox = { rows: Number(o?.rows ?? 0), unsent: Number(o?.unsent ?? 0), dead: Number(o?.dead ?? 0) };
    }
    return { rows, unprocessed, byStatus, outbox };
  } finally {
    await c.end();
  }
}
