import { startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import pg from 'pg';
import { fakeChannel } from '../channel.js';
import {
  channelFlags,
  oauthFlags,
  startGatewayProcess,
  startNodeProcess,
  freePort,
  type GatewayProcess,
} from '../process.js';
import { startBalancer, type Balancer } from './balancer.js';
import { afterEach, beforeEach } from 'vitest';
import { freshDatabase, pgAvailable } from '../pg.js';
import { figures, sleep, waitUntil } from './lib.js';

/**
 * Several `serve` instances on one PostgreSQL database behind a tiny load balancer, with the
 * sandbox (Bitrix24) posting operators' messages to the balancer at a steady rate and the fake
 * channel taking what the gateway delivers. What the multi-instance scenarios share.
 */

export const CONNECTOR = 'reliability_fleet';
export const LINE = 9;

export interface FleetOptions {
  /** The database every instance uses. */
  db: string;
  instances: number;
  /** Extra serve arguments. */
  args?: string[];
  /** Start the instances first with this CLI (another build), without the current build's options. */
  oldCli?: string;
}

export interface Fleet {
  sb: Sandbox;
  channel: Awaited<ReturnType<typeof fakeChannel>>;
  lb: Balancer;
  instances: (GatewayProcess | undefined)[];
  /** Starts instance `i` (again), with the current build or `cli` of another build, and puts it behind the balancer. */
  start(i: number, cli?: string): Promise<GatewayProcess>;
  /** Sends `signal` to instance `i`; resolves with its exit code once it exited. */
  stop(i: number, signal: NodeJS.Signals): Promise<number | null>;
  close(): Promise<void>;
}

export async function startFleet(o: FleetOptions): Promise<Fleet> {
  const sb = await startSandbox({ plan: 'enterprise' });
  const channel = await fakeChannel();
  const lb = await startBalancer(Array.from({ length: o.instances }, () => undefined));
  const args = (adminPort: number, current = true) => [
    '--db',
    o.db,
    '--allow-domain',
    '127.0.0.1:*',
    ...oauthFlags(sb),
    '--plan',
    'enterprise',
    ...channelFlags(channel),
    '--admin-port',
    String(adminPort),
    '--log-level',
    'warn',
    ...(current ? (o.args ?? []) : []),
  ];
  const fleet: Fleet = {
    sb,
    channel,
    lb,
    instances: [],
    async start(i, cli) {
      const adminPort = await freePort();
      let gw: GatewayProcess;
      if (cli) {
        const port = await freePort();
        gw = await startNodeProcess(
          [cli, 'serve', '--port', String(port), ...args(adminPort, false)],
          port,
          {},
          60_000,
        );
      } else gw = await startGatewayProcess(args(adminPort), { startMs: 60_000 });
      gw.adminUrl = `http://127.0.0.1:${adminPort}`;
      fleet.instances[i] = gw;
      lb.backends[i] = gw.url;
      return gw;
    },
    async stop(i, signal) {
      const gw = fleet.instances[i];
      if (!gw) return null;
      await gw.kill(signal);
      return gw.child.exitCode;
    },
    async close() {
      await Promise.all(fleet.instances.map((g) => g?.kill('SIGKILL')));
      await lb.close();
      await sb.stop();
      await channel.close();
    },
  };
  for (let i = 0; i < o.instances; i++) await fleet.start(i, o.oldCli);
  const handler = `${lb.url}/events`;
  const install = await sb.install(sb.portal, handler);
  if (!install.ok) throw new Error(`install failed: ${JSON.stringify(install)}`);
  sb.portal.ensureConnector(CONNECTOR, LINE);
  sb.portal.bind('ONIMCONNECTORMESSAGEADD', handler);
  return fleet;
}

export interface LoadResult {
  sent: number;
  /** Bitrix24 message id → the gateway's event id, for every message answered 200. */
  acked: Map<number, number>;
  /** Message ids in the order they were sent, per chat. */
  perChat: Map<string, number[]>;
  /** Answers other than 200, by status (0: no answer). */
  refused: Map<number, number>;
  /** When each acknowledged message was sent (by Bitrix24 message id). */
  sentAt: Map<number, number>;
  /** The first few refusals' answers, to print. */
  refusals: string[];
}

/**
 * Operators write in `chats` chats (one message at a time per chat, in order) at about `rate`
 * messages per second in all, until `stop()` says so.
 */
export function steadyLoad(fleet: Fleet, rate: number, chats = Math.max(30, Math.ceil(rate / 3))) {
  const result: LoadResult = {
    sent: 0,
    acked: new Map(),
    perChat: new Map(),
    refused: new Map(),
    sentAt: new Map(),
    refusals: [],
  };
  let stopped = false;
  const periodMs = (1000 * chats) / rate;
  const operator = async (k: number) => {
    const chat = `ext-chat-${k}`;
    const order: number[] = [];
    result.perChat.set(chat, order);
    await sleep((periodMs * k) / chats);
    for (let i = 0; !stopped; i++) {
      const t = Date.now();
      result.sent++;
      const m = await fleet.sb.act.operatorWrites(fleet.sb.portal, {
        connector: CONNECTOR,
        line: LINE,
        externalChatId: chat,
        text: `message ${k}/${i}`,
      });
      const d = m.delivery.deliveries[0];
      const status = d?.status ?? 0;
      if (m.delivery.ok && d) {
        order.push(m.message.id);
        result.sentAt.set(m.message.id, t);
        result.acked.set(m.message.id, (JSON.parse(d.responseBody ?? '{}') as { id: number }).id);
      } else {
        result.refused.set(status, (result.refused.get(status) ?? 0) + 1);
        if (result.refusals.length < 5)
          result.refusals.push(`${status} ${(d?.responseBody ?? d?.error ?? '').slice(0, 200)}`);
      }
      await sleep(Math.max(0, periodMs - (Date.now() - t)));
    }
  };
  const running = Promise.all(Array.from({ length: chats }, (_, k) => operator(k)));
  return {
    result,
    stop: async () => {
      stopped = true;
      await running;
      return result;
    },
  };
}

export interface Settled {
  /** Acknowledged messages that reached the channel and whose delivery status reached the sandbox. */
  complete: number;
  /** Acknowledged messages missing either. */
  missing: number;
  /** Chats whose messages reached the channel out of the order they were sent in. */
  outOfOrder: number;
  /** Channel deliveries beyond one per event (redeliveries under the same webhook-id). */
  redelivered: number;
  /** How long after the call every acknowledged message was complete; -1 when not within `timeoutMs`. */
  settledMs: number;
  /** The slowest acknowledged message: from when it was sent to when its delivery status reached the sandbox. */
  slowestMs: number;
}

/** Waits until every acknowledged message reached the channel and got its delivery status, then checks order per chat. */
export async function settle(fleet: Fleet, load: LoadResult, timeoutMs: number): Promise<Settled> {
  const t0 = Date.now();
  const check = () => {
    const delivered = new Set(fleet.channel.deliveries.map((d) => d.payload.source.eventId));
    const statused = new Set(fleet.sb.recorder.statuses({ kind: 'delivery' }).map((s) => s.messageId));
    let complete = 0;
    for (const [messageId, eventId] of load.acked) if (delivered.has(eventId) && statused.has(messageId)) complete++;
    return complete;
  };
  const ok = await waitUntil(() => check() === load.acked.size, timeoutMs, 100);
  const settledMs = ok ? Date.now() - t0 : -1;
  const complete = check();
  // Order: each chat's events reach the channel (first delivery of each) in the order they were sent.
  const firstSeen = new Map<number, number>();
  fleet.channel.deliveries.forEach((d, i) => {
    if (!firstSeen.has(d.payload.source.eventId)) firstSeen.set(d.payload.source.eventId, i);
  });
  let outOfOrder = 0;
  for (const ids of load.perChat.values()) {
    const seen = ids.map((m) => firstSeen.get(load.acked.get(m)!) ?? Infinity).filter((x) => x !== Infinity);
    if (seen.some((x, i) => i > 0 && x < seen[i - 1]!)) outOfOrder++;
  }
  const ids = new Set(fleet.channel.deliveries.map((d) => d.webhookId));
  const statusAt = new Map<number, number>();
  for (const st of fleet.sb.recorder.statuses({ kind: 'delivery' }))
    if (!statusAt.has(st.messageId)) statusAt.set(st.messageId, st.at);
  let slowestMs = 0;
  for (const [m, t] of load.sentAt) slowestMs = Math.max(slowestMs, (statusAt.get(m) ?? Date.now()) - t);
  return {
    slowestMs,
    complete,
    missing: load.acked.size - complete,
    outOfOrder,
    redelivered: fleet.channel.deliveries.length - ids.size,
    settledMs,
  };
}

/** The fleet's database counts, to print. */
export async function dbCounts(url: string): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const q = async (sql: string) => Number((await c.query<{ n: string }>(sql)).rows[0]!.n);
    return {
      events: await q('SELECT COUNT(*) AS n FROM events'),
      'events-dead': await q("SELECT COUNT(*) AS n FROM events WHERE status = 'dead'"),
      'events-pending': await q("SELECT COUNT(*) AS n FROM events WHERE status = 'pending'"),
      'events-retry': await q("SELECT COUNT(*) AS n FROM events WHERE status = 'retry'"),
      'events-processing': await q("SELECT COUNT(*) AS n FROM events WHERE status = 'processing'"),
      'statuses-open': await q("SELECT COUNT(*) AS n FROM status_outbox WHERE status IN ('pending', 'sending')"),
      'chats-open': await q(
        "SELECT COUNT(DISTINCT order_key) AS n FROM events WHERE status IN ('pending', 'retry', 'processing')",
      ),
      'lapsed-attempts': await q("SELECT COUNT(*) AS n FROM event_attempts WHERE error LIKE 'no outcome before%'"),
    };
  } finally {
    await c.end();
  }
}

/** Polls until `gw` answers /readyz 200 (true) or `timeoutMs` passes. */
export const readyWithin = (gw: GatewayProcess, timeoutMs: number) =>
  waitUntil(
    async () =>
      (await fetch(`${gw.adminUrl ?? gw.url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))
        ?.ok ?? false,
    timeoutMs,
    100,
  );

/** A fresh PostgreSQL database for each test, and the fleet a test starts on it closed (and the database dropped) after it. */
export function fleetPerTest(): { url: () => string; start: (o: Omit<FleetOptions, 'db'>) => Promise<Fleet> } {
  let db: Awaited<ReturnType<typeof freshDatabase>> | undefined;
  let fleet: Fleet | undefined;
  beforeEach(async () => {
    if (pgAvailable) db = await freshDatabase();
  });
  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
    await db?.drop();
    db = undefined;
  });
  return {
    url: () => db!.url,
    start: async (o) => (fleet = await startFleet({ ...o, db: db!.url })),
  };
}

/** One scenario's figures line: its own fields, then the load, the settling and the database's counts. */
export async function reportRun(
  name: string,
  fleet: Fleet,
  load: LoadResult,
  settled: Settled,
  url: string,
  fields: Record<string, string | number>,
): Promise<Record<string, number>> {
  const counts = await dbCounts(url);
  figures(name, {
    ...fields,
    sent: load.sent,
    acknowledged: load.acked.size,
    refused: JSON.stringify(Object.fromEntries(load.refused)),
    rerouted: fleet.lb.rerouted,
    ...settled,
    ...counts,
  });
  if (load.refusals.length > 0) console.log(load.refusals.join('\n'));
  return counts;
}
