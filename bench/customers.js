// @ts-check
/**
 * The customers' side end to end: a channel (in the bench's process) posts what its customers
 * do to the gateway's POST /channel/events, signed as Standard Webhooks say, at a fixed rate:
 * new messages in many chats, every n-th an edit of a message Bitrix24 already has. The gateway
 * (its own process, `serve --role all`) keeps each before it answers and sends them to the
 * sandbox (a fake Bitrix24, in this process) with imconnector.send.messages / update.messages,
 * batched. Measured: actions sent, acknowledged, seen by the sandbox (a message's id in a command
 * it ran), customer actions per second from the first send to the last one seen, send → seen
 * latency, REST requests per 1,000 customer actions, messages seen twice, and what is left.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import { sign } from '../dist/effects/channel/sign.js';
import { startSandbox } from '@b24-im-gateway/sandbox';
import { sampleMemory } from './memory.js';
import { freshDatabase } from './pg.js';
import { startServer } from './targets.js';
import Database from 'better-sqlite3';
import pg from 'pg';

const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
const channelServer = new URL('./servers/channel.js', import.meta.url).pathname;
const CONNECTOR = 'bench_customers';
const LINE = 1;

/**
 * @typedef {object} CustomerSetup
 * @property {string} id
 * @property {string} label
 * @property {'sqlite' | 'postgres'} db
 */

/** @type {CustomerSetup[]} */
export const customerSetups = [
  { id: 'customers-sqlite', label: 'customers → Bitrix24, gateway serve, SQLite', db: 'sqlite' },
  { id: 'customers-pg', label: 'customers → Bitrix24, gateway serve, PostgreSQL', db: 'postgres' },
];

/**
 * @typedef {object} CustomerLoad
 * @property {number} rate          customer actions per second the channel offers (open loop)
 * @property {number} warmupSeconds offered first, awaited, not counted
 * @property {number} seconds       offered and measured
 * @property {number} chats         chats the new messages are spread over (round-robin)
 * @property {number} editEvery     every n-th action is an edit of a message Bitrix24 has (0: none)
 * @property {number} maxInFlight   most POSTs open at once
 * @property {number} drainSeconds  longest wait for the sandbox after the last send
 */

/**
 * @typedef {object} CustomerResult
 * @property {string} id
 * @property {string} label
 * @property {'sqlite' | 'postgres'} db
 * @property {CustomerLoad} load
 * @property {number} sent
 * @property {number} creates
 * @property {number} edits
 * @property {number} acknowledged
 * @property {Record<string, number>} rejected  other answers by status (0: none)
 * @property {number} seen          acknowledged actions the sandbox ran
 * @property {number} missing       acknowledged, not seen when the wait ended
 * @property {number} twice         new messages the sandbox got more than once
 * @property {number} sendRate
 * @property {number} actionsPerSec  seen ÷ (first send → last seen)
 * @property {{ p50: number, p99: number, max: number } | null} latencyMs   send → seen at the sandbox
 * @property {{ p50: number, p99: number, max: number } | null} answerMs    the gateway's answer to the channel
 * @property {{ requests: number, commands: number, errors: number, per1000: number | null }} rest
 * @property {{ pending: number, sent: number, dead: number }} left  the customer outbox when the gateway stopped
 * @property {Record<string, import('./memory.js').MemoryResult>} memory
 * @property {string[]} problems
 * @property {string[]} notes
 */

/** @param {number[]} xs */
const stats = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const at = (/** @type {number} */ p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
  const r = (/** @type {number} */ v) => Math.round(v * 10) / 10;
  return { p50: r(at(50)), p99: r(at(99)), max: r(s[s.length - 1] ?? 0) };
};

/**
 * POSTs a body with headers, keep-alive off (each channel request its own connection, as a webhook sender's often is).
 * @param {string} url
 * @param {string} body
 * @param {Record<string, string>} headers
 * @returns {Promise<number>} the status, 0 when none came
 */
const post = (url, body, headers) =>
  new Promise((resolve) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 30_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });

/**
 * @param {CustomerSetup} setup
 * @param {CustomerLoad} load
 * @param {{ dir: string, progress?: (line: string) => void, onKill?: (kill: () => void) => void }} o
 * @returns {Promise<CustomerResult>}
 */
export async function runCustomers(setup, load, { dir, progress = () => undefined, onKill = () => undefined }) {
  /** @type {(() => Promise<unknown> | unknown)[]} */
  const cleanups = [];
  try {
    const sb = await startSandbox({ recorderLimit: 2_000 });
    cleanups.push(() => sb.stop());
    const channel = await startServer('channel', (port) => [channelServer, '--port', String(port)]);
    cleanups.push(() => channel.stop());
    onKill(() => channel.kill());
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const pgDb = setup.db === 'postgres' ? await freshDatabase() : null;
    if (pgDb) cleanups.push(() => pgDb.drop());
    const db = pgDb ? pgDb.url : join(dir, `${setup.id}.db`);
    const gateway = await startServer(`${setup.id} gateway`, (port) => [
      cli, 'serve', '--port', String(port), '--db', db, '--role', 'all',
      '--allow-domain', new URL(sb.url).host,
      '--client-id', sb.clientId, '--client-secret', sb.clientSecret, '--oauth-server', sb.url,
      '--channel-url', `${channel.url}/bitrix`, '--channel-secret', secret,
      '--log-level', 'warn',
    ]); // prettier-ignore
    cleanups.push(() => gateway.stop());
    onKill(() => gateway.kill());
    const portal = sb.portal;
    const installed = await sb.install(portal, `${gateway.url}/events`);
    if (!installed.ok)
      throw new Error(
        `install failed: ${installed.deliveries[0]?.status} ${installed.deliveries[0]?.responseBody ?? installed.deliveries[0]?.error ?? ''}`,
      );
    portal.ensureConnector(CONNECTOR, LINE);
    await sleep(300);

    const url = `${gateway.url}/channel/events`;
    /** @typedef {{ sent: number, creates: number, edits: number, acknowledged: number, rejected: Record<string, number>, firstSend: number, lastSend: number, lastSeen: number, latencies: number[], answers: number[], requests: number, commands: number, errors: number, closed: boolean }} Tally */
    /** @returns {Tally} */
    const newTally = () => ({
      sent: 0,
      creates: 0,
      edits: 0,
      acknowledged: 0,
      rejected: {},
      firstSend: 0,
      lastSend: 0,
      lastSeen: 0,
      latencies: [],
      answers: [],
      requests: 0,
      commands: 0,
      errors: 0,
      closed: false,
    });
    let tally = newTally();
    /** `<kind>:<message id>` → when its action was sent, and in which phase */
    /** @type {Map<string, { at: number, tally: Tally }>} */
    const outstanding = new Map();
    /** new messages the sandbox ran, and how often */
    /** @type {Map<string, number>} */
    const created = new Map();
    /** messages Bitrix24 has: what the channel may edit next */
    /** @type {{ id: string, chat: string }[]} */
    const editable = [];
    const seen = (/** @type {string} */ key, /** @type {number} */ at) => {
      const o = outstanding.get(key);
      if (!o || o.tally.closed) return;
      outstanding.delete(key);
      o.tally.latencies.push(at - o.at);
      o.tally.lastSeen = Math.max(o.tally.lastSeen, at);
    };
    const offCall = sb.recorder.on('call', (c) => {
      const t = tally;
      if (c.transport !== 'batch') {
        if (c.memberId === portal.memberId && (c.method === 'batch' || c.method.startsWith('imconnector.'))) {
          t.requests++;
          if (c.httpStatus !== 200) t.errors++;
        }
      }
      // A refused call (a 503 QUERY_LIMIT_EXCEEDED the gateway then retries) is recorded with its parameters, but ran nothing.
      if (
        (c.method !== 'imconnector.send.messages' && c.method !== 'imconnector.update.messages') ||
        c.httpStatus !== 200
      )
        return;
      t.commands++;
      const at = performance.now();
      const items = /** @type {{ message?: { id?: string }, chat?: { id?: string } }[]} */ (
        Array.isArray(c.params.MESSAGES) ? c.params.MESSAGES : []
      );
      for (const m of items) {
        const id = String(m.message?.id ?? '');
        if (c.method === 'imconnector.send.messages') {
          created.set(id, (created.get(id) ?? 0) + 1);
          if ((created.get(id) ?? 0) === 1 && load.editEvery > 0) editable.push({ id, chat: String(m.chat?.id ?? '') });
          seen(`c:${id}`, at);
        } else seen(`u:${id}`, at);
      }
    });

    let next = 0;
    /** @param {number} i */
    const sendOne = async (i) => {
      const t = tally;
      const edit = load.editEvery > 0 && i % load.editEvery === load.editEvery - 1 && editable.length > 0;
      const target = edit
        ? /** @type {{ id: string, chat: string }} */ (editable.shift())
        : { id: `m-${i}`, chat: `chat-${i % load.chats}` };
      const action = edit
        ? {
            type: 'message.updated',
            chat: { externalId: target.chat },
            message: { externalId: target.id, text: `Bench message ${target.id}, edited at ${i}` },
          }
        : {
            type: 'message.created',
            chat: { externalId: target.chat },
            user: { externalId: `user-${target.chat}`, name: 'Bench' },
            message: { externalId: target.id, text: `Bench message ${i}` },
          };
      const body = JSON.stringify({
        version: 1,
        portal: { memberId: portal.memberId },
        connector: { id: CONNECTOR, line: LINE },
        ...action,
      });
      const requestId = `r-${i}`;
      const at = performance.now();
      if (!t.firstSend) t.firstSend = at;
      t.lastSend = at;
      t.sent++;
      if (edit) t.edits++;
      else t.creates++;
      const key = `${edit ? 'u' : 'c'}:${target.id}`;
      outstanding.set(key, { at, tally: t });
      const ts = Math.floor(Date.now() / 1000);
      const status = await post(url, body, {
        'content-type': 'application/json',
        'webhook-id': requestId,
        'webhook-timestamp': String(ts),
        'webhook-signature': sign(secret, requestId, ts, body),
      });
      if (status === 200) {
        t.acknowledged++;
        t.answers.push(performance.now() - at);
      } else {
        outstanding.delete(key);
        t.rejected[String(status)] = (t.rejected[String(status)] ?? 0) + 1;
      }
    };

    /** @param {number} count */
    const offer = async (count) => {
      const started = performance.now();
      /** @type {Set<Promise<void>>} */
      const inFlight = new Set();
      for (let k = 0; k < count;) {
        const wait = started + (k * 1000) / load.rate - performance.now();
        if (wait > 0) await sleep(wait);
        if (inFlight.size >= load.maxInFlight) {
          await Promise.race(inFlight);
          continue;
        }
        const p = sendOne(next++).finally(() => inFlight.delete(p));
        inFlight.add(p);
        k++;
      }
      await Promise.all(inFlight);
      const deadline = performance.now() + load.drainSeconds * 1000;
      while ([...outstanding.values()].some((o) => o.tally === tally) && performance.now() < deadline) await sleep(50);
    };

    if (load.warmupSeconds > 0) await offer(Math.round(load.rate * load.warmupSeconds));
    tally = newTally();
    const t = tally;
    const sampler = sampleMemory(gateway.pid, 1000);
    progress(`measured: ${load.rate} customer actions/s for ${load.seconds} s`);
    await offer(Math.max(1, Math.round(load.rate * load.seconds)));
    const missing = [...outstanding.values()].filter((o) => o.tally === t).length;
    t.closed = true;
    const memory = { [setup.id]: sampler.stop() };
    await gateway.stop();
    offCall();

    /** @type {CustomerResult['left']} */
    const left = { pending: 0, sent: 0, dead: 0 };
    const sql = 'SELECT status, COUNT(*)::int AS n FROM customer_actions GROUP BY status';
    /** @type {{ status: string, n: number }[]} */
    let rows;
    if (pgDb) {
      const c = new pg.Client({ connectionString: pgDb.url });
      await c.connect();
      rows = (await c.query(sql).finally(() => c.end())).rows;
    } else {
      const file = new Database(db, { readonly: true });
      rows = /** @type {{ status: string, n: number }[]} */ (file.prepare(sql.replace('::int', '')).all());
      file.close();
    }
    for (const r of rows)
      left[r.status === 'sending' ? 'pending' : /** @type {'pending' | 'sent' | 'dead'} */ (r.status)] += Number(r.n);
    const twice = [...created.values()].filter((n) => n > 1).length;
    const seenCount = t.acknowledged - missing;
    const e2eSeconds = ((t.lastSeen || performance.now()) - t.firstSend) / 1000;
    const sendRate = t.lastSend > t.firstSend ? (t.sent - 1) / ((t.lastSend - t.firstSend) / 1000) : t.sent;
    /** @type {string[]} */
    const problems = [];
    /** @type {string[]} */
    const notes = [];
    if (t.acknowledged < t.sent)
      problems.push(
        `${t.sent - t.acknowledged} of ${t.sent} customer actions not answered 200: ${JSON.stringify(t.rejected)}`,
      );
    if (twice > 0) problems.push(`${twice} new messages reached Bitrix24 more than once`);
    if (missing > 0) {
      const queued = left.pending;
      if (missing > queued)
        problems.push(
          `${missing} acknowledged customer actions never reached Bitrix24 and only ${queued} were left queued: lost`,
        );
      else
        notes.push(
          `backlog: ${missing} customer actions had not reached Bitrix24 ${load.drainSeconds} s after the last send (still queued when the gateway stopped)`,
        );
    }
    if (left.dead > 0) problems.push(`${left.dead} customer actions dead`);
    if (t.errors > 0) notes.push(`${t.errors} REST requests answered with an error (the gateway retried them)`);
    return {
      id: setup.id,
      label: setup.label,
      db: setup.db,
      load,
      sent: t.sent,
      creates: t.creates,
      edits: t.edits,
      acknowledged: t.acknowledged,
      rejected: t.rejected,
      seen: seenCount,
      missing,
      twice,
      sendRate: Math.round(sendRate * 10) / 10,
      actionsPerSec: e2eSeconds > 0 ? seenCount / e2eSeconds : 0,
      latencyMs: stats(t.latencies),
      answerMs: stats(t.answers),
      rest: {
        requests: t.requests,
        commands: t.commands,
        errors: t.errors,
        per1000: t.sent > 0 ? Math.round((t.requests / t.sent) * 1000 * 10) / 10 : null,
      },
      left,
      memory,
      problems,
      notes,
    };
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}
