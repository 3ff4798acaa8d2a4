// @ts-check
/**
 * End to end: the sandbox (a fake Bitrix24, in this process) installs the application on the
 * gateway (its own process or processes), the application side binds the connector's handlers
 * through the sandbox's REST API, then operators write and edit messages in many Open Lines
 * chats at a fixed rate. Every event goes form-encoded to the gateway as Bitrix24 sends it
 * (the sandbox's own encoder, fresh tokens, a new connection per event, never re-sent); the
 * gateway's worker delivers it to a fake channel (bench/servers/channel.js, answers 200 at
 * once) and reports delivery to the sandbox with imconnector.send.status.delivery, where the
 * recorder sees it. Measured: sent, acknowledged, delivered to the channel, statuses back,
 * events/s from first send to last status and over the steady window, send → status latency per
 * message, REST requests per 1,000 events, CPU per event (the gateway's, and its PostgreSQL
 * backends'), the gateway's RSS each second, and what is left in its database.
 * The same load against the minimal relay (bench/servers/relay.js) gives the CPU per event the
 * gateway's is compared with: there an event is done when the relay answered it.
 */
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL } from 'node:url';
import process from 'node:process';
import { connectorCodes } from '../dist/events/registry.js';
import { callRest, httpBuildQuery, startSandbox } from '@b24-im-gateway/sandbox';
import { limitedGroup } from './cgroup.js';
import { procCpuSeconds, sampleMemory } from './memory.js';
import { startNoiseMeter, startPgCpuMeter } from './noise.js';
import { countPgRows, freshDatabase } from './pg.js';
import { countRows, nodeArgs, startServer } from './targets.js';

const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
const channelServer = new URL('./servers/channel.js', import.meta.url).pathname;
const relayServer = new URL('./servers/relay.js', import.meta.url).pathname;

const CONNECTOR = 'bench_channel';
const LINE = 1;
/** What an Open Lines connector application binds (as `b24-im-gateway demo` does). */
const BOUND_EVENTS = [...connectorCodes];

/**
 * @typedef {object} EndToEndSetup
 * @property {string} id
 * @property {string} label
 * @property {'sqlite' | 'postgres' | 'none'} db  none: the minimal relay, which keeps nothing
 * @property {number} instances      gateway processes on the one database, each `serve --role all`
 * @property {string} color
 * @property {boolean} [relay]       the minimal relay instead of the gateway
 * @property {number} [rate]         events/s offered in this run whatever --e2e-rate says
 */

/** Steady window: statuses counted from this long after the first send to the last send. */
export const STEADY_SKIP_SECONDS = 1;

/** @type {EndToEndSetup[]} */
export const endToEndSetups = [
  {
    id: 'e2e-relay',
    label: 'minimal relay (node:http: answer 200, POST the body to the channel)',
    db: 'none',
    instances: 1,
    color: '#9aa0a6',
    relay: true,
  },
  { id: 'e2e-sqlite', label: 'gateway serve, SQLite, 1 instance', db: 'sqlite', instances: 1, color: '#1a73e8' },
  {
    id: 'e2e-sqlite-500',
    label: 'gateway serve, SQLite, 1 instance, 500 events/s',
    db: 'sqlite',
    instances: 1,
    color: '#8ab4f8',
    rate: 500,
  },
  { id: 'e2e-pg', label: 'gateway serve, PostgreSQL, 1 instance', db: 'postgres', instances: 1, color: '#188038' },
  {
    id: 'e2e-pg2',
    label: 'gateway serve ×2 (both --role all), PostgreSQL, one database',
    db: 'postgres',
    instances: 2,
    color: '#81c995',
  },
];

/** The soak: one SQLite gateway under the end-to-end load for minutes (`--soak`), for its RSS over time. */
/** @type {EndToEndSetup} */
export const soakSetup = {
  id: 'e2e-soak',
  label: 'gateway serve, SQLite, 1 instance, soak',
  db: 'sqlite',
  instances: 1,
  color: '#1a73e8',
};

/**
 * @typedef {object} EndToEndLoad
 * @property {number} rate          events per second the sandbox offers (open loop: sent on schedule whatever the gateway's speed)
 * @property {number} warmupSeconds first offered this long, and their statuses awaited, before anything is counted
 * @property {number} seconds       how long it offers them (measured)
 * @property {number} chats         Open Lines chats the messages are spread over (round-robin)
 * @property {number} updateEvery   every n-th event is an operator's edit of a message whose delivery was confirmed (0: only new messages)
 * @property {number} maxInFlight   most event POSTs open at once; past it the sender waits (and falls behind schedule)
 * @property {number} drainSeconds  longest wait for the statuses after the last send
 * @property {number} stallSeconds  stop waiting earlier when no status came for this long
 */

/**
 * @typedef {object} EndToEndResult
 * @property {string} id
 * @property {string} label
 * @property {string} color
 * @property {'sqlite' | 'postgres' | 'none'} db
 * @property {number} instances
 * @property {boolean} relay         the minimal relay: an event is done when it answered (no status comes)
 * @property {EndToEndLoad} load
 * @property {{ sent: number, acknowledged: number, confirmed: number }} warmup  the warm-up before the measured phase (not in any other number)
 * @property {number} sent           events the sandbox posted
 * @property {number} adds           of which ONIMCONNECTORMESSAGEADD
 * @property {number} updates        of which ONIMCONNECTORMESSAGEUPDATE
 * @property {number} acknowledged   answered 2xx by the gateway
 * @property {Record<string, number>} rejected  other answers by HTTP status (0: none)
 * @property {{ requests: number, unique: number, repeats: number, byType: Record<string, number>, badJson: number } | null} channel
 * @property {number} confirmed      delivery statuses at the sandbox matched to an acknowledged event
 * @property {number} missing        acknowledged events with no status when the wait ended
 * @property {number} late           of those, statuses that came while the gateways were stopping (not counted as confirmed)
 * @property {number} lost           acknowledged events with no status after the stop and nothing left for them in the database
 * @property {'drained' | 'deadline' | 'stalled'} waitEnded  every status came; the longest wait passed; no status came for stallSeconds
 * @property {number} unexpected     statuses for no outstanding event (repeats, or for a message not sent)
 * @property {number} unknownToSandbox statuses the sandbox could not match to a message it sent
 * @property {number} sendSeconds    first send to last send
 * @property {number} sendRate       events sent per second actually achieved
 * @property {number} e2eSeconds     first send to last status
 * @property {number} eventsPerSec   confirmed ÷ e2eSeconds
 * @property {number | null} steadyPerSec  statuses confirmed from STEADY_SKIP_SECONDS after the first send to the last send, ÷ that window (null when under 2 s)
 * @property {number} done           events finished: statuses confirmed (the relay: answered)
 * @property {number | null} cpuUsPerEvent  CPU (user + system, every thread) of the gateway processes together during load and wait, µs ÷ done
 * @property {{ seconds: number, backends: number, usPerEvent: number | null } | null} pgCpu  the PostgreSQL backends of the run's database: CPU during load and wait
 * @property {{ p50: number, p99: number, max: number } | null} latencyMs  sandbox send → status at the sandbox, per event
 * @property {{ p50: number, p99: number, max: number } | null} intakeMs   sandbox send → gateway's answer (POST time)
 * @property {{ requests: number, commands: number, errors: number, errorsByCode: Record<string, number>, byMethod: Record<string, number>, tokenRequests: number, per1000: number | null }} rest  during the load and the wait, setup excluded; requests are HTTP requests (a batch is one), commands count each method call (a batch's commands each)
 * @property {{ requests: number }} setupRest  REST requests of the install and the handler binding
 * @property {number} waitedSeconds  after the last send
 * @property {boolean} drained       every acknowledged event got its status
 * @property {import('./targets.js').StoredRows | null} stored
 * @property {Record<string, import('./memory.js').MemoryResult>} memory  per gateway process, sampled once a second through load and wait
 * @property {Record<string, MemoryLimitResult> | null} memoryLimit  per gateway process, when each ran in a memory cgroup (`--memory-limit`)
 * @property {Record<string, number>} cpuSeconds  CPU used during load and wait: this process (sandbox, sender, recorder) and each gateway (or the relay); the channel is not counted
 * @property {import('./noise.js').NoiseResult | null} noise  how busy the machine was during load and wait, and how much of it was not the bench
 * @property {string[]} problems     failures: lost, unanswered, unconfirmed, repeated
 * @property {string[]} notes        worth knowing, not failures
 * @property {string} output         the gateways' last lines (warnings and errors)
 */

/**
 * A gateway process run in a memory cgroup: what the group saw, and how the process ended if it
 * ended before the bench stopped it.
 * @typedef {import('./cgroup.js').CgroupUsage & { ended: string | null }} MemoryLimitResult
 */

/**
 * Each gateway process in a memory cgroup of `mb` MB under `root` (see bench/cgroup.js).
 * @typedef {{ mb: number, root: import('./cgroup.js').CgroupRoot }} MemoryLimit
 */

/**
 * GET a URL and parse its JSON answer (at most 5 s).
 * @param {string} url
 * @returns {Promise<unknown>}
 */
const getJson = (url) =>
  new Promise((resolve, reject) => {
    const req = get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
  });

/** @param {number[]} sorted */
const pct = (sorted, /** @type {number} */ p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
/** @param {number[]} xs */
const stats = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const r = (/** @type {number} */ v) => Math.round(v * 10) / 10;
  return { p50: r(pct(s, 50)), p99: r(pct(s, 99)), max: r(s[s.length - 1] ?? 0) };
};

/**
 * One end-to-end run: start everything, install, bind, send, wait for the statuses, count, stop.
 * @param {EndToEndSetup} setup
 * @param {EndToEndLoad} load
 * @param {{ dir: string, progress?: (line: string) => void, onKill?: (kill: () => void) => void, memoryLimit?: MemoryLimit | null }} o
 * @returns {Promise<EndToEndResult>}
 */
export async function runEndToEnd(
  setup,
  load,
  { dir, progress = () => undefined, onKill = () => undefined, memoryLimit = null },
) {
  /** @type {(() => Promise<unknown> | unknown)[]} */
  const cleanups = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    cleanups.length = 0;
  };
  const relay = setup.relay === true;
  /** @type {ReturnType<typeof limitedGroup>[]} */
  const groups = [];
  try {
    const sb = await startSandbox({ recorderLimit: 2_000 });
    cleanups.push(() => sb.stop());
    const channel = await startServer('channel', (port) => [channelServer, '--port', String(port)]);
    cleanups.push(() => channel.stop());
    onKill(() => channel.kill());
    const channelSecret = `whsec_${randomBytes(32).toString('base64')}`;
    const pgDb = setup.db === 'postgres' ? await freshDatabase() : null;
    if (pgDb) cleanups.push(() => pgDb.drop());
    const db = pgDb ? pgDb.url : join(dir, `${setup.id}.db`);
    const sandboxHost = new URL(sb.url).host;
    const argv = (/** @type {number} */ port) => relay ? [relayServer, '--port', String(port), '--channel-url', `${channel.url}/bitrix`] : [
      ...nodeArgs,
      cli, 'serve', '--port', String(port), '--db', db, '--role', 'all',
      '--allow-domain', sandboxHost,
      '--client-id', sb.clientId, '--client-secret', sb.clientSecret, '--oauth-server', sb.url,
      '--channel-url', `${channel.url}/bitrix`, '--channel-secret', channelSecret,
      '--log-level', 'warn',
    ]; // prettier-ignore
    /** @type {import('./targets.js').ServerProcess[]} */
    const gateways = [];
    for (let i = 0; i < setup.instances; i++) {
      // The relay is the yardstick, not the gateway: never limited.
      const group = memoryLimit && !relay ? limitedGroup(memoryLimit.root, memoryLimit.mb) : null;
      if (group) {
        groups.push(group);
        cleanups.push(() => group.remove());
      }
      const g = await startServer(`${setup.id} gateway`, argv, { cgroupProcs: group?.procs });
      gateways.push(g);
      cleanups.push(() => g.stop());
      onKill(() => g.kill());
    }
    const names = gateways.map((_, i) => (setup.instances > 1 ? `${setup.id} #${i + 1}` : setup.id));
    const eventUrls = gateways.map((g) => `${g.url}/events`);
    const portal = sb.portal;

    // ---- install and bind, as the application would ----
    let setupRequests = 0;
    const countSetup = sb.recorder.on('call', (c) => {
      if (c.transport !== 'batch') setupRequests++;
    });
    const installed = await sb.install(portal, /** @type {string} */ (eventUrls[0]));
    if (!installed.ok)
      throw new Error(
        `install failed: ONAPPINSTALL answered ${installed.deliveries[0]?.status} ${installed.deliveries[0]?.responseBody ?? installed.deliveries[0]?.error ?? ''}`,
      );
    /** @type {Record<string, string>} */
    const cmd = {
      register: `imconnector.register?${httpBuildQuery({ ID: CONNECTOR, NAME: 'Bench channel', ICON: { DATA_IMAGE: 'data:image/svg+xml;base64,PHN2Zy8+' }, PLACEMENT_HANDLER: `${gateways[0]?.url}/placement` })}`,
      activate: `imconnector.activate?${httpBuildQuery({ CONNECTOR, LINE, ACTIVE: 1 })}`,
      ...Object.fromEntries(
        BOUND_EVENTS.map((e) => [
          `bind_${e.toLowerCase()}`,
          `event.bind?${httpBuildQuery({ event: e, handler: eventUrls[0] })}`,
        ]),
      ),
    };
    const bound = await callRest(sb.restUrl, 'batch', { auth: installed.tokens.access_token, halt: 1, cmd });
    const boundErrors = bound.body?.result?.result_error;
    if (bound.status !== 200 || (boundErrors && Object.keys(boundErrors).length > 0))
      throw new Error(`binding the handlers failed: ${JSON.stringify(bound.body).slice(0, 300)}`);
    // The install is confirmed (app.info) and stored before the 200; wait until the worker has also taken ONAPPINSTALL.
    await sleep(300);
    countSetup();

    // ---- the load: a warm-up (not counted), then the measured phase ----
    /**
     * What one phase counted.
     * @typedef {{ sent: number, adds: number, updates: number, acknowledged: number, confirmed: number, unexpected: number, unknownToSandbox: number, closed: boolean, late: number,
     *   firstSend: number, lastSend: number, lastStatus: number, latencies: number[], statusTimes: number[], intake: number[], rejected: Record<string, number>,
     *   rest: EndToEndResult['rest'] }} Tally
     */
    /** @returns {Tally} */
    const newTally = () => ({
      sent: 0, adds: 0, updates: 0, acknowledged: 0, confirmed: 0, unexpected: 0, unknownToSandbox: 0, closed: false, late: 0,
      firstSend: 0, lastSend: 0, lastStatus: 0, latencies: [], statusTimes: [], intake: [], rejected: {},
      rest: { requests: 0, commands: 0, errors: 0, errorsByCode: {}, byMethod: {}, tokenRequests: 0, per1000: null },
    }); // prettier-ignore
    let tally = newTally();
    /** messageId → the one event of that message not yet confirmed: when it was sent, whether it was a new message, its phase */
    /** @type {Map<number, { at: number, add: boolean, tally: Tally }>} */
    const outstanding = new Map();
    /** statuses that came before the send of their new message returned its id: messageId → when */
    /** @type {Map<number, number>} */
    const early = new Map();
    /** messages whose delivery was confirmed, oldest first: what operators may edit next */
    /** @type {number[]} */
    const editable = [];
    // A command inside a batch is recorded (transport 'batch') before the batch request itself.
    const offCall = sb.recorder.on('call', (c) => {
      const rest = tally.rest;
      if (c.transport === 'batch') {
        rest.commands++;
        return;
      }
      rest.requests++;
      rest.byMethod[c.method] = (rest.byMethod[c.method] ?? 0) + 1;
      if (c.method !== 'batch') rest.commands++;
      if (c.httpStatus !== 200) {
        rest.errors++;
        const code = `${c.httpStatus} ${c.error ?? ''}`.trim();
        rest.errorsByCode[code] = (rest.errorsByCode[code] ?? 0) + 1;
      }
    });
    const offToken = sb.recorder.on('token', () => tally.rest.tokenRequests++);
    const confirm = (
      /** @type {Tally} */ t,
      /** @type {number} */ messageId,
      /** @type {number} */ sentAt,
      /** @type {number} */ at,
      /** @type {boolean} */ wasAdd,
    ) => {
      t.confirmed++;
      t.latencies.push(at - sentAt);
      t.statusTimes.push(at);
      t.lastStatus = Math.max(t.lastStatus, at);
      if (wasAdd && load.updateEvery > 0) editable.push(messageId);
    };
    const offStatus = sb.recorder.on('status', (s) => {
      if (s.kind !== 'delivery') return;
      const at = performance.now();
      if (!s.known) tally.unknownToSandbox++;
      const o = outstanding.get(s.messageId);
      if (o && o.tally.closed) {
        // Came while the gateways were stopping, after the wait: not counted as confirmed.
        outstanding.delete(s.messageId);
        o.tally.late++;
      } else if (o) {
        outstanding.delete(s.messageId);
        confirm(o.tally, s.messageId, o.at, at, o.add);
      } else if (early.has(s.messageId)) tally.unexpected++;
      else early.set(s.messageId, at);
    });

    /**
     * @param {Tally} t
     * @param {import('@b24-im-gateway/sandbox').DeliveryResult} r
     */
    const answered = (t, r) => {
      const d = r.deliveries[0];
      if (d?.ok) {
        t.acknowledged++;
        t.intake.push(d.ms);
        return true;
      }
      const code = String(d?.status ?? 'none');
      t.rejected[code] = (t.rejected[code] ?? 0) + 1;
      return false;
    };
    /** @param {number} i */
    const sendOne = async (i) => {
      const t = tally;
      const handlerUrl = /** @type {string} */ (eventUrls[i % eventUrls.length]);
      const edit = load.updateEvery > 0 && i % load.updateEvery === load.updateEvery - 1 && editable.length > 0;
      const at = performance.now();
      if (!t.firstSend) t.firstSend = at;
      t.lastSend = at;
      t.sent++;
      if (edit) {
        t.updates++;
        const messageId = /** @type {number} */ (editable.shift());
        outstanding.set(messageId, { at, add: false, tally: t });
        const r = await sb.act.operatorEdits(portal, messageId, `Bench message, edited at event ${i}`, { handlerUrl });
        const ok = answered(t, r);
        if (!ok || relay) outstanding.delete(messageId);
        // The relay reports nothing: its event is done when answered.
        if (ok && relay) confirm(t, messageId, at, performance.now(), false);
        return;
      }
      t.adds++;
      const m = await sb.act.operatorWrites(
        portal,
        {
          connector: CONNECTOR,
          line: LINE,
          externalChatId: `bench-${i % load.chats}`,
          text: `Bench message ${i}`,
          operatorName: 'Bench Operator',
        },
        { handlerUrl },
      );
      if (!answered(t, m.delivery)) return;
      const id = m.message.id;
      if (relay) return void confirm(t, id, at, performance.now(), true);
      const before = early.get(id);
      if (before !== undefined) {
        early.delete(id);
        confirm(t, id, at, before, true);
      } else outstanding.set(id, { at, add: true, tally: t });
    };

    let next = 0;
    let lastReport = performance.now();
    /**
     * Offers `count` events at load.rate (open loop; at most load.maxInFlight POSTs open), then
     * waits for their statuses: until none is missing, load.drainSeconds after the last send, or
     * load.stallSeconds without a status. Returns the seconds waited after the last send and why the wait ended.
     * @param {number} count
     * @param {string} what  for progress lines
     */
    const offer = async (count, what) => {
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
        const now = performance.now();
        if (now - lastReport >= 5000) {
          lastReport = now;
          progress(`${what}: sent ${tally.sent}, answered ${tally.acknowledged}, statuses ${tally.confirmed}`);
        }
      }
      await Promise.all(inFlight);
      const sendDone = performance.now();
      const deadline = sendDone + load.drainSeconds * 1000;
      let lastProgressAt = sendDone;
      let lastConfirmed = tally.confirmed;
      /** @type {'drained' | 'deadline' | 'stalled'} */
      let ended = 'drained';
      while (outstanding.size > 0) {
        const now = performance.now();
        if (tally.confirmed !== lastConfirmed) {
          lastConfirmed = tally.confirmed;
          lastProgressAt = now;
        }
        if (now >= deadline) ended = 'deadline';
        else if (now - lastProgressAt >= load.stallSeconds * 1000) ended = 'stalled';
        if (ended !== 'drained') break;
        if (now - lastReport >= 5000) {
          lastReport = now;
          progress(`${what}: waiting for ${outstanding.size} statuses`);
        }
        await sleep(50);
      }
      return { waited: (performance.now() - sendDone) / 1000, ended };
    };

    const warmup = Math.round(load.rate * load.warmupSeconds);
    /** @type {string[]} */
    const notes = [];
    if (warmup > 0) {
      await offer(warmup, 'warm-up');
      if (outstanding.size > 0)
        notes.push(`${outstanding.size} statuses of the warm-up had not come when the measured phase began`);
    }
    const warm = tally;
    // The relay answers before it forwards: let its last POSTs reach the channel (at most 5 s),
    // so the phases' counts and CPU do not spill into each other. ONAPPINSTALL went there too.
    const channelReached = async (/** @type {number} */ unique) => {
      for (let k = 0; k < 100; k++) {
        const now = /** @type {{ unique?: number } | null} */ (await getJson(`${channel.url}/stats`).catch(() => null));
        if ((now?.unique ?? 0) >= unique) return;
        await sleep(50);
      }
    };
    if (relay) await channelReached(1 + warm.acknowledged);
    const channelBefore = /** @type {NonNullable<EndToEndResult['channel']>} */ (
      await getJson(`${channel.url}/stats`).catch(() => null)
    ) ?? { requests: 0, unique: 0, repeats: 0, badJson: 0, byType: {} };
    tally = newTally();
    const t = tally;
    const samplers = gateways.map((g) => sampleMemory(g.pid, 1000));
    const noiseMeter = startNoiseMeter(
      () => [...gateways.map((g) => g.pid), channel.pid],
      () => (pgDb ? [pgDb.name] : []),
    );
    const pgCpuMeter = pgDb ? startPgCpuMeter(pgDb.name) : null;
    const cpuBefore = { bench: process.cpuUsage(), gateways: gateways.map((g) => procCpuSeconds(g.pid) ?? 0) };
    const { waited: waitedSeconds, ended } = await offer(Math.max(1, Math.round(load.rate * load.seconds)), 'measured');
    if (relay) await channelReached(channelBefore.unique + t.acknowledged);
    // What had not come by the end of the wait is missing; statuses arriving while the gateways stop are `late`.
    const missing = [...outstanding.values()].filter((o) => o.tally === t).length;
    t.closed = true;
    const memory = Object.fromEntries(samplers.map((m, i) => [names[i], m.stop()]));
    const noise = noiseMeter.stop();
    const benchCpu = process.cpuUsage(cpuBefore.bench);
    const gatewayCpu = gateways.map((g, i) => (procCpuSeconds(g.pid) ?? 0) - (cpuBefore.gateways[i] ?? 0));
    const pgSeconds = pgCpuMeter?.stop() ?? null;
    const cpuSeconds = {
      'bench (sandbox + sender)': Math.round((benchCpu.user + benchCpu.system) / 1e4) / 100,
      ...Object.fromEntries(gatewayCpu.map((c, i) => [names[i], Math.round(c * 100) / 100])),
    };
    const done = t.confirmed;
    const perEvent = (/** @type {number} */ seconds) => (done > 0 ? Math.round((seconds * 1e6) / done) : null);
    const cpuUsPerEvent = perEvent(gatewayCpu.reduce((a, b) => a + b, 0));
    const pgCpu = pgSeconds
      ? {
          seconds: Math.round(pgSeconds.seconds * 100) / 100,
          backends: pgSeconds.backends,
          usPerEvent: perEvent(pgSeconds.seconds),
        }
      : null;

    // A gateway that ended before the stop (the OOM killer's SIGKILL, V8 out of heap) failed the run.
    const endedEarly = gateways.map((g) => g.exit());
    await Promise.all(gateways.map((g) => g.stop()));
    /** @type {Record<string, MemoryLimitResult> | null} */
    const memoryLimitResult = groups.length
      ? Object.fromEntries(
          groups.map((grp, i) => {
            const e = endedEarly[i];
            return [names[i], { ...grp.usage(), ended: e ? (e.signal ?? `exit code ${e.code}`) : null }];
          }),
        )
      : null;
    const output = gateways
      .map((g, i) => (g.output().trim() ? `[${names[i]}] ${g.output().trim().split('\n').slice(-8).join('\n')}` : ''))
      .filter(Boolean)
      .join('\n');
    offCall();
    offToken();
    offStatus();
    t.unexpected += early.size;
    /** @type {EndToEndResult['channel']} */
    let channelStats = null;
    try {
      const after = /** @type {NonNullable<EndToEndResult['channel']>} */ (await getJson(`${channel.url}/stats`));
      /** @type {Record<string, number>} */
      const byType = {};
      for (const [k, v] of Object.entries(after.byType)) byType[k] = v - (channelBefore.byType[k] ?? 0);
      channelStats = {
        requests: after.requests - channelBefore.requests,
        unique: after.unique - channelBefore.unique,
        repeats: after.repeats - channelBefore.repeats,
        badJson: after.badJson - channelBefore.badJson,
        byType,
      };
    } catch {
      // counted as a problem below
    }
    const stored = relay ? null : pgDb ? await countPgRows(pgDb.url) : countRows(db);
    // Acknowledged, no status even after the stop, and nothing left for it in the database: lost.
    const stillOut = missing - t.late;
    const queued = stored ? (stored.unprocessed ?? 0) + (stored.outbox?.unsent ?? 0) : 0;
    const unaccounted = Math.max(0, stillOut - queued);

    const e2eSeconds = ((t.lastStatus || performance.now()) - t.firstSend) / 1000;
    // Statuses go out in batches, at most 2 REST requests a second per portal, so the last ones
    // come about a second after the last send: over a short run that tail alone lowers
    // confirmed ÷ (first send → last status) below the offered rate. The steady window leaves
    // out the start (the pipeline filling) and the tail, and counts what was confirmed in it.
    const steadyFrom = t.firstSend + STEADY_SKIP_SECONDS * 1000;
    const steadyMs = t.lastSend - steadyFrom;
    const steadyPerSec =
      steadyMs >= 2000
        ? Math.round((t.statusTimes.filter((x) => x >= steadyFrom && x <= t.lastSend).length / steadyMs) * 1000 * 10) /
          10
        : null;
    const problems = [];
    for (const [name, m] of Object.entries(memoryLimitResult ?? {})) {
      if (m.oomKills)
        problems.push(
          `${name} was OOM-killed in its ${m.limitMb} MB memory cgroup (${m.oomKills} OOM kill${m.oomKills === 1 ? '' : 's'}, peak ${m.peakMb ?? '?'} MB)`,
        );
      else if (m.ended) problems.push(`${name} ended during the run (${m.ended}) in its ${m.limitMb} MB memory cgroup`);
    }
    if (t.acknowledged < t.sent)
      problems.push(`${t.sent - t.acknowledged} of ${t.sent} events not answered 2xx: ${JSON.stringify(t.rejected)}`);
    if (warm.acknowledged < warm.sent)
      problems.push(
        `warm-up: ${warm.sent - warm.acknowledged} of ${warm.sent} events not answered 2xx: ${JSON.stringify(warm.rejected)}`,
      );
    const leftText = stored
      ? `when the gateway${setup.instances > 1 ? 's' : ''} stopped, ${stored.unprocessed ?? 0} events were still queued and ${stored.outbox?.unsent ?? 0} statuses unsent in the database; ${t.late} statuses came during the stop`
      : '';
    if (missing > 0 && ended === 'stalled')
      problems.push(
        `${missing} of ${t.acknowledged} acknowledged events got no delivery status, and none came for ${load.stallSeconds} s (${leftText})`,
      );
    else if (missing > 0)
      notes.push(
        `backlog: ${missing} of ${t.acknowledged} statuses had not come ${Math.round(waitedSeconds)} s after the last send, the longest wait (the gateway was still working through them: ${leftText})`,
      );
    if (unaccounted > 0)
      problems.push(
        `${unaccounted} acknowledged events got no delivery status and nothing for them was left in the database (not queued, no unsent status): lost`,
      );
    if (t.unexpected + warm.unexpected > 0)
      problems.push(
        `${t.unexpected + warm.unexpected} delivery statuses for no outstanding event (repeated or unmatched)`,
      );
    if (t.unknownToSandbox + warm.unknownToSandbox > 0)
      problems.push(
        `${t.unknownToSandbox + warm.unknownToSandbox} delivery statuses for messages the sandbox did not send`,
      );
    if (!channelStats) problems.push('the channel did not answer GET /stats');
    else {
      const notYet = stored?.unprocessed ?? 0;
      if (channelStats.unique < t.acknowledged - notYet)
        problems.push(
          `the channel got ${channelStats.unique} distinct deliveries for ${t.acknowledged} acknowledged events, of which ${notYet} were still queued`,
        );
      if (channelStats.repeats > 0)
        problems.push(`the channel got ${channelStats.repeats} repeated deliveries (same webhook-id)`);
    }
    const rest = t.rest;
    const limited = rest.errorsByCode['503 QUERY_LIMIT_EXCEEDED'] ?? 0;
    const otherErrors = rest.errors - limited;
    if (otherErrors > 0)
      problems.push(
        `${otherErrors} REST requests answered with an error other than 503 QUERY_LIMIT_EXCEEDED: ${JSON.stringify(rest.errorsByCode)}`,
      );
    const warmLimited = warm.rest.errorsByCode['503 QUERY_LIMIT_EXCEEDED'] ?? 0;
    if (limited + warmLimited > 0) {
      const n = limited + warmLimited;
      notes.push(
        `${n} REST request${n === 1 ? '' : 's'} (${limited} measured, ${warmLimited} in the warm-up) answered 503 QUERY_LIMIT_EXCEEDED by the portal's leaky bucket; the gateway backed off and retried. One is expected: the application's own setup calls (app.info, the binding batch) used part of the portal's burst, which the gateway's limiter cannot see`,
      );
    }
    const sendRate = t.lastSend > t.firstSend ? (t.sent - 1) / ((t.lastSend - t.firstSend) / 1000) : t.sent;
    const e2eRate = e2eSeconds > 0 ? t.confirmed / e2eSeconds : 0;
    // Statuses go out in batches at most 2 REST requests a second, so about a second of tail is normal.
    if (
      !relay &&
      ended === 'drained' &&
      sendRate >= load.rate * 0.95 &&
      e2eRate >= load.rate * 0.8 &&
      waitedSeconds <= 2
    ) {
      notes.push(
        `kept up with the ${load.rate} events/s offered (the last status ${waitedSeconds.toFixed(1)} s after the last send): end-to-end events/s is about the offered rate less that tail, not the gateway's ceiling; raise --e2e-rate to find it`,
      );
    }
    if (stored) {
      // ONAPPINSTALL is one more row than the load.
      const answeredAll = warm.acknowledged + t.acknowledged + 1;
      if (stored.rows < answeredAll)
        problems.push(`${stored.rows} events stored for ${answeredAll} acknowledged (warm-up and install included)`);
      const dead = stored.byStatus.dead ?? 0;
      if (dead > 0) problems.push(`${dead} events dead (given up) in the database`);
      if (stored.outbox && stored.outbox.dead > 0)
        problems.push(`${stored.outbox.dead} delivery statuses given up (dead) in the status outbox`);
    }
    return {
      id: setup.id,
      label: setup.label,
      color: setup.color,
      db: setup.db,
      instances: setup.instances,
      relay,
      load,
      warmup: { sent: warm.sent, acknowledged: warm.acknowledged, confirmed: warm.confirmed },
      sent: t.sent,
      adds: t.adds,
      updates: t.updates,
      acknowledged: t.acknowledged,
      rejected: t.rejected,
      channel: channelStats,
      confirmed: t.confirmed,
      missing,
      late: t.late,
      lost: unaccounted,
      waitEnded: ended,
      unexpected: t.unexpected,
      unknownToSandbox: t.unknownToSandbox,
      sendSeconds: Math.round(t.lastSend - t.firstSend) / 1000,
      sendRate: Math.round(sendRate * 10) / 10,
      e2eSeconds: Math.round(e2eSeconds * 1000) / 1000,
      eventsPerSec: e2eRate,
      steadyPerSec,
      done,
      cpuUsPerEvent,
      pgCpu,
      latencyMs: relay ? null : stats(t.latencies),
      intakeMs: stats(t.intake),
      rest: { ...rest, per1000: t.sent > 0 ? Math.round((rest.requests / t.sent) * 1000 * 10) / 10 : null },
      setupRest: { requests: setupRequests },
      waitedSeconds: Math.round(waitedSeconds * 10) / 10,
      drained: missing === 0,
      stored,
      memory,
      memoryLimit: memoryLimitResult,
      cpuSeconds,
      noise,
      problems,
      notes,
      output,
    };
  } catch (e) {
    // Died while starting or installing: say when the memory limit was why.
    const kills = groups.reduce((a, g) => a + (g.usage().oomKills ?? 0), 0);
    if (kills > 0 && e instanceof Error)
      e.message = `OOM-killed in its ${memoryLimit?.mb} MB memory cgroup (${kills} OOM kill${kills === 1 ? '' : 's'}): ${e.message}`;
    throw e;
  } finally {
    await cleanup();
  }
}
