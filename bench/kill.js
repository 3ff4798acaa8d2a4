// @ts-check
/**
 * Kill and recover: two `serve` instances on one PostgreSQL database behind a small load
 * balancer (the next instance when one refuses the connection), operators' messages offered at a
 * steady rate by the sandbox. Instance 1 is SIGKILLed at `killAt`; with `restartAt` it is started
 * again then (on this machine: it takes back the dead process's claims as its store opens),
 * without, the survivor takes them over once their leases run out (what another machine sees).
 * Reports how long after the kill every event acknowledged before it had its delivery status
 * (the recovery time), the slowest send → status, and what was lost.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import { startSandbox } from '@b24-im-gateway/sandbox';
import pg from 'pg';
import { freshDatabase } from './pg.js';
import { startServer } from './targets.js';

const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
const channelServer = new URL('./servers/channel.js', import.meta.url).pathname;
const CONNECTOR = 'bench_kill';
const LINE = 1;

/**
 * @typedef {object} KillSetup
 * @property {string} id
 * @property {string} label
 * @property {boolean} restart  start the killed instance again at `restartAt`
 */

/** @type {KillSetup[]} */
export const killSetups = [
  { id: 'kill-restart', label: 'PostgreSQL ×2, one SIGKILLed at 5 s and restarted at 7 s', restart: true },
  { id: 'kill-only', label: 'PostgreSQL ×2, one SIGKILLed at 5 s, not restarted', restart: false },
];

/**
 * @typedef {object} KillLoad
 * @property {number} rate      messages per second offered
 * @property {number} seconds   of load
 * @property {number} killAt    seconds into the load
 * @property {number} restartAt seconds into the load
 * @property {number} chats
 * @property {number} waitSeconds  longest wait for the statuses after the load
 */

/**
 * @typedef {object} KillResult
 * @property {string} id
 * @property {string} label
 * @property {KillLoad} load
 * @property {number} sent
 * @property {number} acknowledged
 * @property {number} ackedBeforeKill
 * @property {number} refused    answers other than 2xx (requests in flight on the killed instance)
 * @property {number} confirmed  acknowledged messages whose delivery status reached the sandbox
 * @property {number} lost       acknowledged messages without a status at the end of the wait (lost, or a backlog the wait was too short for)
 * @property {number | null} recoverySeconds  kill → the last status of a message acknowledged before the kill
 * @property {number | null} slowestSeconds   the slowest acknowledged message, send → status
 * @property {number | null} afterEndSeconds  end of the load → the last status
 * @property {number} takeovers  attempts that ended with no outcome before their lease ran out (the killed process's)
 */

/**
 * The load balancer: round-robin over the backends, the next one when a backend refuses the connection.
 * @param {() => string[]} backends
 */
async function startBalancer(backends) {
  let next = 0;
  const server = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (/** @type {Buffer} */ c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const list = backends();
      const start = next++;
      for (let i = 0; i < list.length; i++) {
        const target = new URL(req.url ?? '/', list[(start + i) % list.length]);
        /** @type {{ status: number, type: string, body: Buffer } | 'refused'} */
        const got = await new Promise((resolve) => {
          const out = request(
            target,
            {
              method: req.method,
              agent: false,
              headers: { 'content-type': req.headers['content-type'] ?? '', 'content-length': String(body.length) },
            },
            (r) => {
              /** @type {Buffer[]} */
              const parts = [];
              r.on('data', (/** @type {Buffer} */ c) => parts.push(c));
              r.on('end', () =>
                resolve({
                  status: r.statusCode ?? 502,
                  type: String(r.headers['content-type'] ?? ''),
                  body: Buffer.concat(parts),
                }),
              );
              r.on('error', () => resolve({ status: 502, type: 'text/plain', body: Buffer.from('reset') }));
            },
          );
          out.on('error', (/** @type {NodeJS.ErrnoException} */ e) =>
            resolve(
              e.code === 'ECONNREFUSED' ? 'refused' : { status: 502, type: 'text/plain', body: Buffer.from(e.message) },
            ),
          );
          out.end(body);
        });
        if (got === 'refused') continue;
        res.writeHead(got.status, { 'content-type': got.type }).end(got.body);
        return;
      }
      res.writeHead(502).end('no backend');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', () => r(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r(undefined))) };
}

/**
 * @param {KillSetup} setup
 * @param {KillLoad} load
 * @param {{ progress?: (line: string) => void, onKill?: (kill: () => void) => void }} [o]
 * @returns {Promise<KillResult>}
 */
export async function runKillRecover(setup, load, { progress = () => undefined, onKill = () => undefined } = {}) {
  /** @type {(() => Promise<unknown> | unknown)[]} */
  const cleanups = [];
  try {
    const sb = await startSandbox({ recorderLimit: 2_000 });
    cleanups.push(() => sb.stop());
    const channel = await startServer('channel', (port) => [channelServer, '--port', String(port)]);
    cleanups.push(() => channel.stop());
    onKill(() => channel.kill());
    const db = await freshDatabase();
    cleanups.push(() => db.drop());
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const argv = (/** @type {number} */ port) => [
      cli, 'serve', '--port', String(port), '--db', db.url, '--allow-domain', new URL(sb.url).host,
      '--client-id', sb.clientId, '--client-secret', sb.clientSecret, '--oauth-server', sb.url,
      '--channel-url', `${channel.url}/bitrix`, '--channel-secret', secret, '--log-level', 'warn',
    ]; // prettier-ignore
    /** @type {(import('./targets.js').ServerProcess | undefined)[]} */
    const gateways = [];
    const start = async (/** @type {number} */ i) => {
      const g = await startServer(`${setup.id} #${i + 1}`, argv);
      gateways[i] = g;
      cleanups.push(() => g.stop());
      onKill(() => g.kill());
    };
    await start(0);
    await start(1);
    const lb = await startBalancer(() => gateways.flatMap((g) => (g ? [g.url] : [])));
    cleanups.push(() => lb.close());
    const handler = `${lb.url}/events`;
    const installed = await sb.install(sb.portal, handler);
    if (!installed.ok) throw new Error(`install failed: ${JSON.stringify(installed.deliveries[0] ?? {})}`);
    sb.portal.ensureConnector(CONNECTOR, LINE);
    sb.portal.bind('ONIMCONNECTORMESSAGEADD', handler);

    /** @type {Map<number, number>} messageId → when its status came */
    const statusAt = new Map();
    const offStatus = sb.recorder.on('status', (s) => {
      if (s.kind === 'delivery' && !statusAt.has(s.messageId)) statusAt.set(s.messageId, performance.now());
    });
    cleanups.push(offStatus);
    /** @type {Map<number, number>} acknowledged messageId → when it was sent */
    const acked = new Map();
    let sent = 0;
    let refused = 0;
    let stopped = false;
    const t0 = performance.now();
    const periodMs = (1000 * load.chats) / load.rate;
    const operator = async (/** @type {number} */ k) => {
      await sleep((periodMs * k) / load.chats);
      for (let i = 0; !stopped; i++) {
        const t = performance.now();
        sent++;
        const m = await sb.act.operatorWrites(sb.portal, {
          connector: CONNECTOR,
          line: LINE,
          externalChatId: `kill-chat-${k}`,
          text: `message ${k}/${i}`,
        });
        if (m.delivery.ok) acked.set(m.message.id, t);
        else refused++;
        await sleep(Math.max(0, periodMs - (performance.now() - t)));
      }
    };
    const running = Promise.all(Array.from({ length: load.chats }, (_, k) => operator(k)));
    const at = (/** @type {number} */ s) => sleep(Math.max(0, t0 + s * 1000 - performance.now()));
    await at(load.killAt);
    gateways[1]?.kill();
    gateways[1] = undefined;
    const killedAt = performance.now();
    const ackedBeforeKill = [...acked].filter(([, t]) => t < killedAt).map(([m]) => m);
    progress(`killed instance 2 at ${load.killAt} s`);
    // Started again on schedule, while the load goes on; a slow start does not stretch the load.
    const restarted = setup.restart
      ? at(load.restartAt)
          .then(() => start(1))
          .then(() => progress(`restarted it; ready at ${((performance.now() - t0) / 1000).toFixed(1)} s`))
      : Promise.resolve();
    await at(load.seconds);
    stopped = true;
    await running;
    await restarted;
    const endedAt = performance.now();
    const deadline = endedAt + load.waitSeconds * 1000;
    while (performance.now() < deadline && [...acked.keys()].some((m) => !statusAt.has(m))) await sleep(100);

    const confirmed = [...acked.keys()].filter((m) => statusAt.has(m)).length;
    const before = ackedBeforeKill.map((m) => statusAt.get(m));
    const recovered = before.every((x) => x !== undefined) ? Math.max(...before) : null;
    let slowest = 0;
    for (const [m, t] of acked) slowest = Math.max(slowest, (statusAt.get(m) ?? Infinity) - t);
    const last = Math.max(...statusAt.values());
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const takeovers = Number(
      (await c.query("SELECT COUNT(*) AS n FROM event_attempts WHERE error LIKE 'no outcome before%'")).rows[0].n,
    );
    await c.end();
    return {
      id: setup.id,
      label: setup.label,
      load,
      sent,
      acknowledged: acked.size,
      ackedBeforeKill: ackedBeforeKill.length,
      refused,
      confirmed,
      lost: acked.size - confirmed,
      recoverySeconds: recovered === null ? null : Math.max(0, recovered - killedAt) / 1000,
      slowestSeconds: Number.isFinite(slowest) ? slowest / 1000 : null,
      afterEndSeconds: confirmed === acked.size ? Math.max(0, last - endedAt) / 1000 : null,
      takeovers,
    };
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
}
