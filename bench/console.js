// @ts-check
/**
 * The console's events list at a million stored events, on SQLite and PostgreSQL: the tables
 * filled by bulk SQL (a recursive CTE on SQLite, generate_series on PostgreSQL, not through
 * HTTP), then each list the console asks for timed over real HTTP (`GET /api/events?...` on an
 * admin listener serving the console, as `b24-im-gateway console` does). The goal: under 100 ms.
 */
import { Buffer } from 'node:buffer';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { freshDatabase } from './pg.js';

export const CONSOLE_GOAL_MS = 100;

/** One GET on a kept-alive connection, its whole answer read, as the page's fetch does. */
const agent = new http.Agent({ keepAlive: true });
/**
 * @param {URL} url
 * @returns {Promise<{ status: number, text: string }>}
 */
const httpGet = (url) =>
  new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const chunks = /** @type {Buffer[]} */ ([]);
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });

const CODES = [
  'ONIMCONNECTORMESSAGEADD',
  'ONIMCONNECTORMESSAGEUPDATE',
  'ONIMCONNECTORMESSAGEDELETE',
  'ONIMCONNECTORDIALOGSTART',
  'ONIMCONNECTORDIALOGFINISH',
  'ONIMBOTMESSAGEADD',
];
const PORTALS = 20;
const CHATS = 10_000;
const SPACING_MS = 2_000;

/**
 * One event per `i`: 20 portals, 10,000 chats (each of one portal), six codes, one in 1,000 dead and
 * one in 997 retrying, a third JSON, one every 2 s (a million is about 23 days).
 * @param {string} n the row number's expression
 * @param {number} start
 */
const selectRows = (n, start) => `
  'bench-' || ${n}, 'member' || (${n} % ${PORTALS}),
  CASE ${n} % 6 ${CODES.map((c, i) => `WHEN ${i} THEN '${c}'`).join(' ')} END,
  TRUE,
  CASE WHEN ${n} % 1000 = 0 THEN 'dead' WHEN ${n} % 997 = 0 THEN 'retry' ELSE 'done' END,
  1, ${n}, 'member' || (${n} % ${PORTALS}) || '|im|1|chat-' || (${n} % ${CHATS}),
  ${start} + ${n} * ${SPACING_MS},
  '{"event":"bench","data":{"n":' || ${n} || '}}',
  'event=bench&data%5Bn%5D=' || ${n},
  CASE WHEN ${n} % 3 = 0 THEN 'json' ELSE 'form' END,
  1,
  ${start} + ${n} * ${SPACING_MS} + 40,
  CASE WHEN ${n} % 1000 = 0 THEN 'the channel answered 502 Bad Gateway' END`;

const columns =
  'dedup_key, member_id, code, known, status, handler_id, ts, order_key, received_at, event, raw_body, content_type, attempts, processed_at, last_error';

/**
 * The lists the console asks for, as a person filters them: name and query.
 * @param {number} rows
 * @param {number} start
 * @returns {[string, string][]}
 */
const lists = (rows, start) => {
  const day = start + Math.floor(rows / 2) * SPACING_MS;
  return [
    ['newest page', 'limit=50'],
    ['a page deep in (keyset)', `limit=50&before=${Math.floor(rows / 2)}`],
    ['dead letters', 'status=dead'],
    ['retrying, one portal', 'status=retry&portal=member3'],
    ['one code', 'code=ONIMCONNECTORDIALOGSTART'],
    ['one portal', 'portal=member7'],
    ['one chat', 'portal=member7&line=1&chat=chat-7'],
    ['one portal, posted', 'portal=member7&mode=webhook'],
    ['one day', `since=${day}&until=${day + 86_400_000}`],
    ['search by id', `q=${Math.floor(rows * 0.77)}`],
  ];
};

/**
 * @typedef {{ db: 'sqlite' | 'postgres', rows: number, fillSeconds: number,
 *   lists: { name: string, query: string, count: number, p50: number, max: number }[],
 *   overviewMs: number }} ConsoleBenchResult
 */

/**
 * @param {'sqlite' | 'postgres'} db
 * @param {{ dir: string, rows: number, rounds: number, progress: (line: string) => void }} o
 * @returns {Promise<ConsoleBenchResult>}
 */
export async function runConsoleBench(db, o) {
  const { openStore } = await import('../dist/store/open.js');
  const { listenAdmin } = await import('../dist/server/admin.js');
  const { consoleRoutes } = await import('../dist/console/routes.js');
  const start = Date.now() - o.rows * SPACING_MS;
  /** @type {(() => Promise<void>) | undefined} */
  let drop;
  let location = `${o.dir}/console-bench.db`;
  if (db === 'postgres') {
    const fresh = await freshDatabase();
    location = fresh.url;
    drop = fresh.drop;
  }
  try {
    // Opening the store makes the schema; the rows then go in by SQL, in chunks.
    const made = openStore(location);
    await made.ping();
    await made.close();
    const filled = performance.now();
    const CHUNK = 100_000;
    if (db === 'sqlite') {
      const file = new Database(location);
      file.pragma('journal_mode = WAL');
      for (let from = 1; from <= o.rows; from += CHUNK) {
        const to = Math.min(o.rows, from + CHUNK - 1);
        file
          .prepare(
            `WITH RECURSIVE n(i) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i < ?)
             INSERT INTO events (${columns}) SELECT ${selectRows('i', start)} FROM n`,
          )
          .run(from, to);
        o.progress(`filled ${to} of ${o.rows}`);
      }
      file.exec('ANALYZE');
      file.close();
    } else {
      const c = new pg.Client({ connectionString: location });
      await c.connect();
      try {
        for (let from = 1; from <= o.rows; from += CHUNK) {
          const to = Math.min(o.rows, from + CHUNK - 1);
          await c.query(
            `INSERT INTO events (${columns}) SELECT ${selectRows('i', start)} FROM generate_series(${from}::bigint, ${to}::bigint) AS i`,
          );
          o.progress(`filled ${to} of ${o.rows}`);
        }
        await c.query('VACUUM ANALYZE events');
      } finally {
        await c.end();
      }
    }
    const fillSeconds = Math.round((performance.now() - filled) / 100) / 10;

    const store = openStore(location);
    const listener = await listenAdmin(
      {
        receiver: undefined,
        ready: () => store.ping(),
        metrics: async () => ({ text: '', contentType: 'text/plain' }),
        logger: /** @type {any} */ ({ error() {}, warn() {}, info() {}, debug() {} }),
      },
      { port: 0, routes: consoleRoutes({ store }) },
      () => false,
    );
    try {
      /** @param {string} path */
      const timed = async (path) => {
        const t = performance.now();
        const { status, text } = await httpGet(new URL(path, listener.url));
        const body = /** @type {{ events?: unknown[] }} */ (JSON.parse(text));
        if (status !== 200) throw new Error(`${path} answered ${status}: ${text.slice(0, 500)}`);
        return { ms: performance.now() - t, count: body.events?.length ?? 0 };
      };
      const results = [];
      for (const [name, query] of lists(o.rows, start)) {
        const path = `/api/events?${query}`;
        await timed(path);
        const ms = [];
        let count = 0;
        for (let i = 0; i < o.rounds; i++) {
          const r = await timed(path);
          ms.push(r.ms);
          count = r.count;
        }
        ms.sort((a, b) => a - b);
        const round = (/** @type {number} */ x) => Math.round(x * 10) / 10;
        results.push({
          name,
          query,
          count,
          p50: round(ms[Math.floor(ms.length / 2)] ?? 0),
          max: round(ms.at(-1) ?? 0),
        });
      }
      await timed('/api/overview');
      const overviewMs = Math.round((await timed('/api/overview')).ms);
      return { db, rows: o.rows, fillSeconds, lists: results, overviewMs };
    } finally {
      await listener.close();
      await store.close();
    }
  } finally {
    await drop?.();
  }
}

/**
 * @param {ConsoleBenchResult[]} results
 * @returns {string}
 */
export function consoleTable(results) {
  if (results.length === 0) return '';
  const names = results[0]?.lists.map((l) => l.name) ?? [];
  const head = `| list (\`GET /api/events?…\`) | ${results.map((r) => `${r.db} p50 / max ms`).join(' | ')} | rows |`;
  const sep = `|---|${results.map(() => '---:').join('|')}|---:|`;
  const body = names.map((name, i) => {
    const cells = results.map((r) => {
      const l = r.lists[i];
      return l
        ? `${l.p50 > CONSOLE_GOAL_MS ? '**' : ''}${l.p50} / ${l.max}${l.p50 > CONSOLE_GOAL_MS ? '**' : ''}`
        : '—';
    });
    return `| ${name} | ${cells.join(' | ')} | ${results[0]?.lists[i]?.count ?? ''} |`;
  });
  const overview = `| (the overview, \`GET /api/overview\`) | ${results.map((r) => `${r.overviewMs}`).join(' | ')} | |`;
  return [head, sep, ...body, overview].join('\n');
}
