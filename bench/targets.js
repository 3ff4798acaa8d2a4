// @ts-check
/**
 * The servers under load, each started as its own process on 127.0.0.1: the bare ceiling, the
 * gateway's intake without storage (the bound its own work sets), the naive Express handler
 * (synchronous=FULL and NORMAL), the gateway's own `serve`,
 * `serve --role intake` (the same intake without the worker, to tell their costs apart), and
 * `serve` on PostgreSQL with one and with two instances on one database.
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
import { limitedGroup } from './cgroup.js';
import { sampleMemory } from './memory.js';
import { WATCHDOG } from '../dist/cli/commands/demo/gateway.js';
import { countPgRows, freshDatabase } from './pg.js';

const root = new URL('..', import.meta.url).pathname;

/**
 * @typedef {object} Target
 * @property {string} id
 * @property {string} short       for the chart legend
 * @property {string} label       what it is, for tables
 * @property {string} durability  what a 200 promises
 * @property {string} color       for the chart
 * @property {boolean} stores     keeps events in a table `events`
 * @property {'sqlite' | 'postgres'} [db]  where (default sqlite: a file in the run's folder)
 * @property {number} [instances]  processes on the one database (default 1); load is split evenly over them
 * @property {(o: { port: number, db: string, tokens: string[] }) => string[]} argv  after `node`
 */

/**
 * What a target left in its database: rows of `events`, how many no worker has finished
 * (null without a status column), rows per status, and the status outbox (null without one).
 * @typedef {{ rows: number, unprocessed: number | null, byStatus: Record<string, number>, outbox: { rows: number, unsent: number, dead: number } | null }} StoredRows
 */

/** Extra node options for the gateway processes (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them). */
export const nodeArgs = (process.env.B24GW_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** @param {string[]} tokens */
const tokenArgs = (tokens) => tokens.flatMap((t) => ['--app-token', t]);

/**
 * The built CLI's `serve` on a port and database, with the fixtures' tokens, logging warnings only.
 * @param {string[]} extra  more options, e.g. a role
 * @returns {(o: { port: number, db: string, tokens: string[] }) => string[]}
 */
const serveArgv =
  (extra = []) =>
  ({ port, db, tokens }) => [
    ...nodeArgs,
    join(root, 'dist/cli/main.js'),
    'serve',
    ...extra,
    '--port',
    String(port),
    '--db',
    db,
    ...tokenArgs(tokens),
    '--log-level',
    'warn',
  ];

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
    id: 'intake-no-store',
    short: 'gateway intake, no storage (bound)',
    label: "the gateway's intake with a store that keeps nothing (not a product mode)",
    durability: 'none: decoded, validated and verified, then dropped',
    color: '#c5221f',
    stores: false,
    argv: ({ port, tokens }) => [join(root, 'bench/servers/no-store.js'), '--port', String(port), ...tokenArgs(tokens)],
  },
  {
    id: 'naive-full',
    short: 'naive Express, sync=FULL',
    label: 'naive Express + qs + sqlite',
    durability: 'insert per request, WAL, synchronous=FULL',
    color: '#e8710a',
    stores: true,
    argv: ({ port, db, tokens }) => [
      join(root, 'bench/servers/naive-express.js'),
      '--port',
      String(port),
      '--db',
      db,
      '--synchronous',
      'FULL',
      ...tokenArgs(tokens),
    ],
  },
  {
    id: 'naive-normal',
    short: 'naive Express, sync=NORMAL',
    label: 'naive Express + qs + sqlite',
    durability: 'insert per request, WAL, synchronous=NORMAL (not power-safe)',
    color: '#fbbc04',
    stores: true,
    argv: ({ port, db, tokens }) => [
      join(root, 'bench/servers/naive-express.js'),
      '--port',
      String(port),
      '--db',
      db,
      '--synchronous',
      'NORMAL',
      ...tokenArgs(tokens),
    ],
  },
  {
    id: 'gateway',
    short: 'gateway serve, sync=FULL',
    label: 'b24-im-gateway serve (intake + worker)',
    durability: 'verified + validated, WAL, synchronous=FULL, group commit',
    color: '#1a73e8',
    stores: true,
    argv: serveArgv(),
  },
  {
    id: 'gateway-intake',
    short: 'gateway --role intake (no worker)',
    label: 'b24-im-gateway serve --role intake',
    durability: 'same as gateway; worker not running in this process',
    color: '#8ab4f8',
    stores: true,
    argv: serveArgv(['--role', 'intake']),
  },
  {
    id: 'gateway-pg',
    short: 'gateway serve, PostgreSQL, 1 instance',
    label: 'b24-im-gateway serve --db postgres://… (intake + worker)',
    durability: 'verified + validated, PostgreSQL commit (server defaults)',
    color: '#188038',
    stores: true,
    db: 'postgres',
    argv: serveArgv(),
  },
  {
    id: 'gateway-pg2',
    short: 'gateway serve, PostgreSQL, 2 instances',
    label: 'two b24-im-gateway serve --db postgres://… (both intake + worker), one database',
    durability: 'same as gateway-pg; load split over both, summed',
    color: '#81c995',
    stores: true,
    db: 'postgres',
    instances: 2,
    argv: serveArgv(),
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
export async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((r) => server.close(() => r(undefined)));
  return port;
}

/**
 * @typedef {object} ServerProcess
 * @property {string} url    http://127.0.0.1:PORT
 * @property {number} pid
 * @property {() => string} output  the last 20 kB it printed
 * @property {() => Promise<void>} stop  SIGTERM, then SIGKILL after 10 s
 * @property {() => void} kill  SIGKILL at once (on failure)
 * @property {() => { code: number | null, signal: string | null } | null} exit  how it ended, null while it runs
 */

/**
 * Starts `node <argv>` on a free loopback port and waits (at most 15 s) until GET /healthz answers 200.
 * With WATCHDOG loaded, the server ends itself when the bench goes away.
 * @param {string} id   for error messages
 * @param {(port: number) => string[]} argv
 * @param {{ cgroupProcs?: string }} [o]  a cgroup's `cgroup.procs`: the process joins that group before node starts
 * @returns {Promise<ServerProcess>}
 */
export async function startServer(id, argv, { cgroupProcs } = {}) {
  const port = await freePort();
  let out = '';
  const args = ['--import', WATCHDOG, ...argv(port)];
  // Through sh so the group (and its memory limit, which V8 sizes its heap to) is in place before node starts; exec keeps the pid.
  const child = cgroupProcs
    ? spawn('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', cgroupProcs, process.execPath, ...args], {
        cwd: root,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const keep = (/** @type {Buffer} */ c) => (out = (out + c.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.stdin.on('error', () => undefined);
  const url = `http://127.0.0.1:${port}`;
  const alive = () => child.exitCode === null && child.signalCode === null;
  const kill = () => {
    if (alive()) child.kill('SIGKILL');
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!alive()) throw new Error(`${id} exited with ${child.exitCode ?? child.signalCode}: ${out}`);
    if (await answers200(`${url}/healthz`)) break;
    if (Date.now() > deadline) {
      kill();
      throw new Error(`${id} did not start: ${out}`);
    }
    await sleep(50);
  }
  return {
    url,
    pid: /** @type {number} */ (child.pid),
    output: () => out,
    exit: () => (alive() ? null : { code: child.exitCode, signal: child.signalCode }),
    async stop() {
      if (alive()) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(timer);
      }
      child.stdin.destroy();
    },
    kill,
  };
}

/**
 * Starts a target's process (or processes, on one database) and waits until each answers
 * GET /healthz. A PostgreSQL target gets a fresh database, dropped by stop().
 * @param {Target} target
 * @param {{ dir: string, tokens: string[], memoryLimit?: import('./e2e.js').MemoryLimit | null }} o  with memoryLimit, each process in a memory cgroup of its own
 */
export async function startTarget(target, { dir, tokens, memoryLimit = null }) {
  const pgDb = target.db === 'postgres' ? await freshDatabase() : null;
  const db = pgDb ? pgDb.url : join(dir, `${target.id}.db`);
  const count = instancesOf(target);
  /** @type {ServerProcess[]} */
  const servers = [];
  /** @type {ReturnType<typeof limitedGroup>[]} */
  const groups = [];
  const killAll = () => {
    for (const s of servers) s.kill();
  };
  const removeGroups = () => Promise.all(groups.map((g) => g.remove()));
  try {
    // One after another: the first one migrates the database.
    for (let i = 0; i < count; i++) {
      const group = memoryLimit ? limitedGroup(memoryLimit.root, memoryLimit.mb) : null;
      if (group) groups.push(group);
      servers.push(
        await startServer(target.id, (port) => target.argv({ port, db, tokens }), { cgroupProcs: group?.procs }),
      );
    }
  } catch (e) {
    killAll();
    await removeGroups();
    await pgDb?.drop().catch(() => undefined);
    throw e;
  }
  const names = servers.map((_, i) => (count > 1 ? `${target.id} #${i + 1}` : target.id));
  const samplers = servers.map((s) => sampleMemory(s.pid, 1000));
  return {
    /** One URL per instance. */
    urls: servers.map((s) => s.url),
    pids: servers.map((s) => s.pid),
    names,
    /** The PostgreSQL database's name, if any (to find its backends' CPU). */
    databases: pgDb ? [pgDb.name] : [],
    output: () =>
      servers
        .map((s, i) => (count > 1 && s.output().trim() ? `[${names[i]}] ${s.output()}` : s.output()))
        .join('\n')
        .trim(),
    /**
     * Stops sampling, reads peak RSS, stops the processes (SIGTERM, then SIGKILL after 10 s),
     * counts stored rows, drops a PostgreSQL database.
     * @returns {Promise<{ memory: Record<string, import('./memory.js').MemoryResult>, stored: StoredRows | null }>}
     */
    async stop() {
      const memory = Object.fromEntries(samplers.map((m, i) => [names[i], m.stop()]));
      await Promise.all(servers.map((s) => s.stop()));
      await removeGroups();
      /** @type {StoredRows | null} */
      let stored = null;
      try {
        if (target.stores) stored = pgDb ? await countPgRows(pgDb.url) : countRows(db);
      } finally {
        await pgDb?.drop().catch(() => undefined);
      }
      return { memory, stored };
    },
    /** Ends the processes at once (on failure); the database is dropped by the run's cleanup, the groups by removeAllGroups. */
    kill: killAll,
    /** Drops the PostgreSQL database, if any (after kill). */
    drop: async () => pgDb?.drop().catch(() => undefined),
  };
}

/** @param {Target} t */
export const instancesOf = (t) => Math.max(1, t.instances ?? 1);

/**
 * What a SQLite target left: see StoredRows.
 * @param {string} file
 * @returns {StoredRows}
 */
export function countRows(file) {
  if (!existsSync(file)) return { rows: 0, unprocessed: null, byStatus: {}, outbox: null };
  const db = new Database(file, { readonly: true });
  try {
    const rows = /** @type {number} */ (db.prepare('SELECT COUNT(*) FROM events').pluck().get());
    const hasStatus = db.prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'status'").get() !== undefined;
    if (!hasStatus) return { rows, unprocessed: null, byStatus: {}, outbox: null };
    const grouped = /** @type {{ status: string, n: number }[]} */ (
      db.prepare('SELECT status, COUNT(*) AS n FROM events GROUP BY status').all()
    );
    const byStatus = Object.fromEntries(grouped.map((x) => [x.status, x.n]));
    const unprocessed = (byStatus.pending ?? 0) + (byStatus.retry ?? 0) + (byStatus.processing ?? 0);
    const hasOutbox =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'status_outbox'").get() !== undefined;
    const o = hasOutbox
      ? /** @type {{ rows: number, unsent: number, dead: number }} */ (
          db
            .prepare(
              "SELECT COUNT(*) AS rows, COALESCE(SUM(status IN ('pending', 'sending')), 0) AS unsent, COALESCE(SUM(status = 'dead'), 0) AS dead FROM status_outbox",
            )
            .get()
        )
      : null;
    return { rows, unprocessed, byStatus, outbox: o };
  } finally {
    db.close();
  }
}
