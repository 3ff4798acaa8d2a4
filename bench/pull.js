// @ts-check
/**
 * The pull modes: the sandbox (a fake Bitrix24, in this process) holds a backlog of events, a
 * fetch-mode bot's Event.get queue or the portal's offline queue, while the gateway is down; then
 * the gateway (its own process, `serve --pull`) starts and takes them. Measured: events pulled per
 * second (start → the last one stored), events processed per second (start → the last one done),
 * REST requests per 1,000 events, events stored twice, and whether the portal's queue was
 * confirmed to its end. The fetch mode is paced as the docs ask (at most one Event.get of a bot
 * every 2 s while events come), so a page of 1,000 every 2 s is its ceiling.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import { callRest, startSandbox } from '@b24-im-gateway/sandbox';
import { freshDatabase } from './pg.js';
import { startServer } from './targets.js';
import Database from 'better-sqlite3';
import pg from 'pg';

const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;

/**
 * @typedef {object} PullSetup
 * @property {string} id
 * @property {string} label
 * @property {'fetch' | 'offline'} mode
 * @property {'sqlite' | 'postgres'} db
 */

/** @type {PullSetup[]} */
export const pullSetups = [
  { id: 'pull-fetch-sqlite', label: 'fetch-mode bot backlog → gateway serve --pull, SQLite', mode: 'fetch', db: 'sqlite' },
  { id: 'pull-offline-sqlite', label: 'offline queue backlog → gateway serve --pull, SQLite', mode: 'offline', db: 'sqlite' },
  { id: 'pull-fetch-pg', label: 'fetch-mode bot backlog → gateway serve --pull, PostgreSQL', mode: 'fetch', db: 'postgres' },
  { id: 'pull-offline-pg', label: 'offline queue backlog → gateway serve --pull, PostgreSQL', mode: 'offline', db: 'postgres' },
]; // prettier-ignore

/**
 * @typedef {object} PullLoad
 * @property {number} events   the backlog
 * @property {number} limit    events asked for in one pull (--pull-limit)
 * @property {number} chats    chats the backlog is spread over
 * @property {number} waitSeconds  longest wait for the backlog
 */

/**
 * @typedef {object} PullResult
 * @property {string} id
 * @property {string} label
 * @property {'fetch' | 'offline'} mode
 * @property {'sqlite' | 'postgres'} db
 * @property {PullLoad} load
 * @property {number} stored       distinct events stored
 * @property {number} twice        events stored more than once
 * @property {number} done
 * @property {number} pulledPerSec  stored ÷ (gateway start → last stored)
 * @property {number} processedPerSec  done ÷ (gateway start → last done)
 * @property {{ requests: number, per1000: number | null }} rest  pull requests (Event.get / event.offline.*)
 * @property {number} leftInPortal  events the portal still kept when the run ended
 * @property {string[]} problems
 */

/**
 * @param {PullSetup} setup
 * @param {PullLoad} load
 * @param {{ dir: string, progress?: (line: string) => void, onKill?: (kill: () => void) => void }} o
 * @returns {Promise<PullResult>}
 */
export async function runPull(setup, load, { dir, progress = () => undefined, onKill = () => undefined }) {
  /** @type {(() => Promise<unknown> | unknown)[]} */
  const cleanups = [];
  /** @type {string[]} */
  const problems = [];
  try {
    const sb = await startSandbox({ recorderLimit: 2_000 });
    cleanups.push(() => sb.stop());
    sb.faults.set({ rateLimit: false });
    const pgDb = setup.db === 'postgres' ? await freshDatabase() : null;
    if (pgDb) cleanups.push(() => pgDb.drop());
    const db = pgDb ? pgDb.url : join(dir, `${setup.id}.db`);
    const args = (/** @type {number} */ port) => [
      cli, 'serve', '--port', String(port), '--db', db, '--role', 'all',
      '--allow-domain', new URL(sb.url).host,
      '--client-id', sb.clientId, '--client-secret', sb.clientSecret, '--oauth-server', sb.url,
      '--pull', '--pull-limit', String(load.limit), '--pull-interval', '1s',
      '--log-level', 'warn',
    ]; // prettier-ignore
    // Installed first, then stopped: the backlog builds up while nobody pulls.
    const first = await startServer(`${setup.id} gateway`, args);
    onKill(() => first.kill());
    const installed = await sb.install(sb.portal, `${first.url}/events`);
    if (!installed.ok) throw new Error(`install failed: ${installed.deliveries[0]?.status}`);
    await first.stop();
    const token = sb.issueTokens(sb.portal).access_token;
    /** @type {() => number} */
    let left;
    if (setup.mode === 'fetch') {
      const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
        auth: token,
        fields: { code: 'bench', properties: { name: 'Bench' }, eventMode: 'fetch' },
      });
      const botId = /** @type {number} */ (r.body.result.bot.id);
      const chats = [];
      for (let c = 0; c < load.chats; c++)
        chats.push((await sb.act.chatbot(sb.portal, { kind: 'join', botId, title: `bench ${c}` })).chatId);
      for (let i = 0; i < load.events; i++)
        await sb.act.chatbot(sb.portal, {
          kind: 'write',
          botId,
          chatId: chats[i % chats.length],
          text: `b${i}`,
          mention: true,
        });
      const queue = /** @type {NonNullable<ReturnType<typeof sb.portal.chatbots.settings.get>>} */ (
        sb.portal.chatbots.settings.get(botId)
      ).queue;
      left = () => queue.size;
    } else {
      await callRest(sb.restUrl, 'event.bind', {
        auth: token,
        event: 'ONIMCONNECTORMESSAGEADD',
        event_type: 'offline',
      });
      for (let i = 0; i < load.events; i++)
        await sb.act.operatorWrites(sb.portal, {
          connector: 'bench',
          line: 1,
          externalChatId: `c${i % load.chats}`,
          text: `o${i}`,
        });
      left = () => sb.portal.offline.size;
    }
    const backlog = load.events;
    const code = setup.mode === 'fetch' ? 'ONIMBOTV2MESSAGEADD' : 'ONIMCONNECTORMESSAGEADD';
    progress(`${left()} events kept by the portal; starting the gateway`);
    const methods =
      setup.mode === 'fetch'
        ? ['imbot.v2.event.get', 'batch', 'imbot.v2.bot.list']
        : ['event.offline.get', 'event.offline.clear', 'event.offline.error', 'batch', 'event.get'];
    let requests = 0;
    const offCall = sb.recorder.on('call', (c) => {
      if (c.transport !== 'batch' && methods.includes(c.method)) requests++;
    });
    cleanups.push(offCall);

    const started = performance.now();
    const gateway = await startServer(`${setup.id} gateway`, args);
    cleanups.push(() => gateway.stop());
    onKill(() => gateway.kill());
    const count = counter(db, code);
    cleanups.push(() => count.close());
    /** When the last event was stored, and done. */
    let storedAt = 0;
    let lastDone = 0;
    let tally = { stored: 0, done: 0, rows: 0 };
    const deadline = started + load.waitSeconds * 1000;
    for (;;) {
      tally = await count.read();
      const now = performance.now();
      if (tally.stored >= backlog && !storedAt) storedAt = now;
      if (tally.done >= backlog) {
        lastDone = now;
        break;
      }
      if (now > deadline) {
        problems.push(`after ${load.waitSeconds} s: ${tally.stored} stored, ${tally.done} done of ${backlog}`);
        break;
      }
      await sleep(25);
    }
    storedAt ||= performance.now();
    // The last page is confirmed by the next call: give it its interval.
    for (let i = 0; i < 120 && left() > 0; i++) await sleep(50);
    const pulledSeconds = (storedAt - started) / 1000;
    const doneSeconds = ((lastDone || performance.now()) - started) / 1000;
    const twice = tally.rows - tally.stored;
    if (twice > 0) problems.push(`${twice} events stored twice`);
    if (left() > 0) problems.push(`${left()} events still kept by the portal`);
    return {
      id: setup.id,
      label: setup.label,
      mode: setup.mode,
      db: setup.db,
      load,
      stored: tally.stored,
      twice,
      done: tally.done,
      pulledPerSec: pulledSeconds > 0 ? Math.round(tally.stored / pulledSeconds) : 0,
      processedPerSec: doneSeconds > 0 ? Math.round(tally.done / doneSeconds) : 0,
      rest: { requests, per1000: tally.stored ? Math.round((requests / tally.stored) * 10_000) / 10 : null },
      leftInPortal: left(),
      problems,
    };
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

/**
 * Counts the pulled events in the gateway's database, from this process: distinct source keys,
 * rows, and done ones.
 * @param {string} db
 * @param {string} code
 */
function counter(db, code) {
  const sql = `SELECT COUNT(*) AS rows, COUNT(DISTINCT dedup_key) AS stored, SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END) AS done FROM events WHERE code = '${code}'`;
  if (db.startsWith('postgres')) {
    const pool = new pg.Pool({ connectionString: db, max: 1 });
    return {
      read: async () => {
        const r = (await pool.query(sql)).rows[0];
        return { rows: Number(r.rows), stored: Number(r.stored), done: Number(r.done ?? 0) };
      },
      close: () => pool.end(),
    };
  }
  /** @type {Database.Database | undefined} */
  let sqlite;
  return {
    read: async () => {
      try {
        sqlite ??= new Database(db, { readonly: true, fileMustExist: true });
        const r = /** @type {{ rows: number, stored: number, done: number | null }} */ (sqlite.prepare(sql).get());
        return { rows: r.rows, stored: r.stored, done: r.done ?? 0 };
      } catch {
        return { rows: 0, stored: 0, done: 0 };
      }
    },
    close: () => sqlite?.close(),
  };
}
