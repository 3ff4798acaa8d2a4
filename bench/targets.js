// @ts-check
/**
 * The servers under load, each started as its own process on 127.0.0.1: the bare ceiling,
 * the naive Express handler (synchronous=FULL and NORMAL), the gateway's own `serve`, and
 * `serve --role intake` (the same intake without the worker, to tell their costs apart).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import Database from 'better-sqlite3';
import { sampleMemory } from './memory.js';

const root = new URL('..', import.meta.url).pathname;

/**
 * @typedef {object} Target
 * @property {string} id
 * @property {string} short       for the chart legend
 * @property {string} label       what it is, for tables
 * @property {string} durability  what a 200 promises
 * @property {string} color       for the chart
 * @property {boolean} stores     keeps events in a SQLite table `events`
 * @property {(o: { port: number, db: string, tokens: string[] }) => string[]} argv  after `node`
 */

/** @param {string[]} tokens */
const tokenArgs = (tokens) => tokens.flatMap((t) => ['--app-token', t]);

/** @type {Target[]} */
export const targets = [
  {
    id: 'bare',
    short: 'bare node:http (ceiling)',
    label: 'bare node:http (ceiling)',
    durability: 'none: reads the body, answers 200',
    color: '#9aa0a6',
    stores: false,
    argv: ({ port }) => [join(root, 'bench/servers/bare.js'), '--port', String(port)],
  },
  {
    id: 'naive-full',
    short: 'naive Express, sync=FULL',
    label: 'naive Express + qs + sqlite',
    durability: 'insert per request, WAL, synchronous=FULL',
    color: '#e8710a',
    stores: true,
    argv: ({ port, db, tokens }) => [join(root, 'bench/servers/naive-express.js'), '--port', String(port), '--db', db, '--synchronous', 'FULL', ...tokenArgs(tokens)],
  },
  {
    id: 'naive-normal',
    short: 'naive Express, sync=NORMAL',
    label: 'naive Express + qs + sqlite',
    durability: 'insert per request, WAL, synchronous=NORMAL (not power-safe)',
    color: '#fbbc04',
    stores: true,
    argv: ({ port, db, tokens }) => [join(root, 'bench/servers/naive-express.js'), '--port', String(port), '--db', db, '--synchronous', 'NORMAL', ...tokenArgs(tokens)],
  },
  {
    id: 'gateway',
    short: 'gateway serve, sync=FULL',
    label: 'b24-im-gateway serve (intake + worker)',
    durability: 'verified + validated, WAL, synchronous=FULL, group commit',
    color: '#1a73e8',
    stores: true,
    argv: ({ port, db, tokens }) => [join(root, 'dist/cli/main.js'), 'serve', '--port', String(port), '--db', db, ...tokenArgs(tokens), '--log-level', 'warn'],
  },
  {
    id: 'gateway-intake',
    short: 'gateway --role intake (no worker)',
    label: 'b24-im-gateway serve --role intake',
    durability: 'same as gateway; worker not running in this process',
    color: '#8ab4f8',
    stores: true,
    argv: ({ port, db, tokens }) => [join(root, 'dist/cli/main.js'), 'serve', '--role', 'intake', '--port', String(port), '--db', db, ...tokenArgs(tokens), '--log-level', 'warn'],
  },
];

/**
 * Whether GET url answers 200.
 * @param {string} url
 * @returns {Promise<boolean>}
 */
const answers200 = (url) =>
  new Promise((resolve) => {
    get(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });

/** @returns {Promise<number>} */
async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((r) => server.close(() => r(undefined)));
  return port;
}

/**
 * Starts a target's process and waits until GET /healthz answers.
 * @param {Target} target
 * @param {{ dir: string, tokens: string[] }} o
 */
export async function startTarget(target, { dir, tokens }) {
  const port = await freePort();
  const db = join(dir, `${target.id}.db`);
  let out = '';
  const child = spawn(process.execPath, target.argv({ port, db, tokens }), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (/** @type {Buffer} */ c) => (out = (out + c.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${target.id} exited with ${child.exitCode}: ${out}`);
    if (await answers200(`${url}/healthz`)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${target.id} did not start: ${out}`);
    }
    await sleep(50);
  }
  const pid = /** @type {number} */ (child.pid);
  const memory = sampleMemory(pid, 1000);
  return {
    url,
    pid,
    output: () => out,
    /** Stops sampling, reads peak RSS, stops the process (SIGTERM, then SIGKILL after 10 s), counts stored rows. */
    async stop() {
      const mem = memory.stop();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      return { memory: mem, stored: target.stores ? countRows(db) : null };
    },
    /** Ends the process at once (on failure). */
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Rows in the target's `events` table, and how many of them no worker has finished yet
 * (null where the table has no status column).
 * @param {string} file
 * @returns {{ rows: number, unprocessed: number | null }}
 */
function countRows(file) {
  if (!existsSync(file)) return { rows: 0, unprocessed: null };
  const db = new Database(file, { readonly: true });
  try {
    const rows = /** @type {number} */ (db.prepare('SELECT COUNT(*) FROM events').pluck().get());
    const hasStatus = db.prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'status'").get() !== undefined;
    const unprocessed = hasStatus ? /** @type {number} */ (db.prepare("SELECT COUNT(*) FROM events WHERE status IN ('pending', 'retry', 'processing')").pluck().get()) : null;
    return { rows, unprocessed };
  } finally {
    db.close();
  }
}
