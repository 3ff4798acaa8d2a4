import { randomBytes } from 'node:crypto';
import type { BitrixClients, PortalClient, RestTime, TimedResult } from '../effects/bitrix/client.js';
import { BitrixApiError } from '../effects/bitrix/errors.js';
import { planLimits, type Plan } from '../effects/bitrix/limiter.js';
import { EXPIRY_SKEW_MS } from '../effects/bitrix/oauth.js';
import { connectorEvents, planBindings, readBindings, type Binding } from '../setup/bindings.js';
import type { Store } from '../store/types.js';

/*
 * "Why don't my events arrive?" One portal, checked from the gateway's own store and REST client:
 * the install and its token, the bindings, a live round trip through the portal, the connector on
 * its lines, the REST budget, the clocks, and what waits in the gateway. Each check says what it
 * found and, when it fails, the one thing to do about it.
 */

export interface DoctorOptions {
  /** The gateway's store: the one the running gateway writes to. */
  store: Store;
  /** REST clients with the application's OAuth client (to refresh the token). */
  clients: BitrixClients;
  memberId: string;
  /** The events URL the bindings must point at; without it, they must all point at one URL. */
  url?: string | undefined;
  /** The connector's code; without it the connector is not checked. */
  connector?: string | undefined;
  /** Lines the connector must be active on; default: the lines the gateway has seen its events on, else line 1. */
  lines?: readonly number[] | undefined;
  plan?: Plan | undefined;
  /** How long the round trip waits for ONAPPTEST. Default 10 s. */
  roundTripMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface Check {
  name: string;
  /** false: a problem; null: not checked (why in `detail`). */
  ok: boolean | null;
  detail: string;
  /** What to do, when it failed. */
  fix?: string;
}

/** Operating time Bitrix24 allows one method of one application in 10 minutes, in seconds. */
const OPERATING_LIMIT_S = 480;
/** A portal clock further off than this makes the token's expiry (refreshed 60 s early) unreliable. */
const MAX_SKEW_MS = EXPIRY_SKEW_MS / 2;

const pass = (name: string, detail: string): Check => ({ name, ok: true, detail });
const fail = (name: string, detail: string, fix: string): Check => ({ name, ok: false, detail, fix });
const skip = (name: string, detail: string): Check => ({ name, ok: null, detail });

/** Every check, in order. A check that needs a working token is skipped when the token does not work. */
export async function diagnose(o: DoctorOptions): Promise<Check[]> {
  const now = o.now ?? Date.now;
  const checks: Check[] = [];
  const portal = await o.store.getPortal(o.memberId);
  if (!portal || portal.uninstalledAt !== null) {
    checks.push(
      fail(
        'portal',
        portal
          ? `portal ${o.memberId} (${portal.domain}) was uninstalled at ${new Date(portal.uninstalledAt!).toISOString()}`
          : `the gateway holds no install of portal ${o.memberId}`,
        'install the application on the portal with the gateway as its install handler (ONAPPINSTALL to its /events)',
      ),
    );
    checks.push(...(await local(o)));
    return checks;
  }
  checks.push(
    pass(
      'portal',
      `${portal.domain} (${o.memberId}), installed ${portal.installedAt === null ? '' : new Date(portal.installedAt).toISOString()}`.trim(),
    ),
  );

  // Before the doctor's own calls take slots: what the gateway's work leaves of the budget.
  const limits = planLimits(o.plan);
  const level = await o.store.rateLevel(o.memberId, limits, now());
  const client = o.clients.forPortal(o.memberId);
  const times: { method: string; timed: TimedResult<unknown> }[] = [];
  const call = async <T>(method: string, params: Record<string, unknown> = {}): Promise<T> => {
    const timed = await client.callWithTime<T>(method, params);
    times.push({ method, timed });
    return timed.result;
  };

  const token = await checkToken(client, call);
  checks.push(token);
  if (!token.ok) {
    for (const name of ['bindings', 'round trip', 'connector', 'REST budget', 'clock'])
      checks.push(skip(name, 'not checked: it needs a working token'));
    checks.push(...(await local(o)));
    return checks;
  }

  let bindings: Binding[] | undefined;
  try {
    bindings = readBindings(await call('event.get'));
    checks.push(checkBindings(bindings, o.url));
  } catch (e) {
    checks.push(fail('bindings', `event.get failed: ${message(e)}`, "check the application's scopes on the portal"));
  }
  if (bindings?.some((b) => b.offline)) checks.push(await offlineQueue(call));
  checks.push(await roundTrip(o, client, bindings, now));
  checks.push(await checkConnector(o, call));
  checks.push(budget(limits, level, times));
  checks.push(clock(times));
  checks.push(...(await local(o)));
  return checks;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const codeOf = (e: unknown): string | undefined => (e instanceof BitrixApiError ? e.reason : undefined);

async function checkToken(client: PortalClient, call: <T>(method: string) => Promise<T>): Promise<Check> {
  try {
    await client.refreshTokens();
    const info = await call<{ STATUS?: unknown; CODE?: unknown }>('app.info');
    return pass(
      'token',
      `refreshed, and app.info answers${info?.CODE ? ` (application ${String(info.CODE)}, status ${String(info.STATUS)})` : ''}`,
    );
  } catch (e) {
    const code = codeOf(e);
    const fix =
      code === 'invalid_grant' || code === 'invalid_token' || code === 'NO_AUTH_FOUND'
        ? 'the portal refused the stored tokens (the application was removed, or reinstalled without the gateway seeing it): reinstall the application with the gateway as its install handler'
        : code === 'B24GW_NO_OAUTH_CLIENT'
          ? "give the application's OAuth client: --client-id and --client-secret (or B24GW_CLIENT_ID, B24GW_CLIENT_SECRET)"
          : code === 'invalid_client'
            ? 'the authorization server refused the OAuth client: check --client-id and --client-secret'
            : 'check that this host reaches the portal and the authorization server (--oauth-server)';
    return fail('token', `could not refresh the token or call the portal: ${message(e)}`, fix);
  }
}

/** The connector's events all wait in the offline queue: serve --pull takes them, woken by ONOFFLINEEVENT when it is bound. */
function checkOfflineBindings(bindings: Binding[]): Check | undefined {
  const plan = planBindings(connectorEvents, bindings, { offline: true });
  if (plan.kept.length === 0) return undefined;
  if (plan.missing.length > 0 || plan.stale.length > 0)
    return fail(
      'bindings',
      `offline: ${plan.kept.length} of ${connectorEvents.length} events${plan.missing.length ? `; not bound: ${plan.missing.join(', ')}` : ''}${plan.stale.length ? `; also bound elsewhere: ${plan.stale.map((b) => `${b.event} → ${b.handler}`).join(', ')}` : ''}`,
      'run b24-im-gateway connector setup --offline (with --url, ONOFFLINEEVENT is posted to the gateway)',
    );
  const news = bindings.find((b) => b.event === 'ONOFFLINEEVENT' && !b.offline);
  return pass(
    'bindings',
    `all ${connectorEvents.length} events wait in the portal's offline queue (serve --pull takes them)${news ? `; ONOFFLINEEVENT goes to ${news.handler}` : '; ONOFFLINEEVENT is not bound: the queue is polled'}`,
  );
}

function checkBindings(bindings: Binding[], url: string | undefined): Check {
  const offline = url === undefined ? checkOfflineBindings(bindings) : undefined;
  if (offline) return offline;
  const online = bindings.filter((b) => !b.offline && connectorEvents.includes(b.event));
  const target = url ?? mostCommon(online.map((b) => b.handler));
  if (target === undefined) {
    return fail(
      'bindings',
      `none of ${connectorEvents.join(', ')} is bound`,
      'run b24-im-gateway connector setup --url https://<your host>/events',
    );
  }
  const plan = planBindings(connectorEvents, bindings, { url: target });
  const wrong = plan.missing.filter((e) => online.some((b) => b.event === e));
  const absent = plan.missing.filter((e) => !wrong.includes(e));
  if (plan.missing.length === 0 && plan.stale.filter((b) => !b.offline).length === 0)
    return pass('bindings', `all ${connectorEvents.length} events go to ${target}`);
  const parts = [
    ...(absent.length ? [`not bound: ${absent.join(', ')}`] : []),
    ...(wrong.length
      ? [
          `bound elsewhere, not to ${target}: ${wrong.map((e) => `${e} → ${online.find((b) => b.event === e)!.handler}`).join(', ')}`,
        ]
      : []),
    ...(plan.stale.length && !wrong.length
      ? [
          `also bound elsewhere: ${plan.stale.map((b) => `${b.event} → ${b.offline ? 'offline queue' : b.handler}`).join(', ')}`,
        ]
      : []),
  ];
  return fail(
    'bindings',
    parts.join('; '),
    `run b24-im-gateway connector setup --url ${target} (it binds what is missing and removes this application's other bindings of these events)`,
  );
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/** event.test makes the portal post ONAPPTEST to its handler: the gateway must store it (the right token), or note it refused (another token). */
async function roundTrip(
  o: DoctorOptions,
  client: PortalClient,
  bindings: Binding[] | undefined,
  now: () => number,
): Promise<Check> {
  const name = 'round trip';
  const bound = bindings?.filter((b) => b.event === 'ONAPPTEST' && !b.offline) ?? [];
  if (bound.length === 0)
    return fail(
      name,
      'ONAPPTEST is not bound, so the portal has nowhere to send a test event',
      'run b24-im-gateway connector setup --url https://<your host>/events',
    );
  const probe = `doctor-${randomBytes(8).toString('hex')}`;
  const started = now();
  try {
    await client.call('event.test', { probe });
  } catch (e) {
    return fail(name, `event.test failed: ${message(e)}`, "check the application's scopes on the portal");
  }
  const sleep = o.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const deadline = started + (o.roundTripMs ?? 10_000);
  const to = bound.map((b) => b.handler).join(', ');
  for (;;) {
    const arrived = await o.store.listEvents({ code: 'ONAPPTEST', memberId: o.memberId, since: started - 60_000 });
    const hit = arrived.find(
      (e) => (e.event as { data?: { QUERY?: { probe?: unknown } } }).data?.QUERY?.probe === probe,
    );
    if (hit)
      return pass(
        name,
        `the portal's ONAPPTEST reached the gateway in ${Math.max(0, hit.receivedAt - started)} ms, with the right application_token`,
      );
    const refused = await o.store.refusedTestAt(o.memberId);
    if (refused !== null && refused >= started - 1_000) {
      return fail(
        name,
        `ONAPPTEST reached the gateway at ${to} with another application_token than the install's, so every event of the portal is refused (401)`,
        'the application was reinstalled without the gateway seeing ONAPPINSTALL: reinstall it with the gateway as its install handler (or fix --app-token)',
      );
    }
    if (now() >= deadline) {
      return fail(
        name,
        `no ONAPPTEST reached this gateway's store within ${Math.round((o.roundTripMs ?? 10_000) / 1000)} s of event.test (sent to ${to})`,
        `make ${to} reachable from the portal (DNS, TLS, firewall) and served by a gateway on this database`,
      );
    }
    await sleep(200);
  }
}

async function checkConnector(
  o: DoctorOptions,
  call: <T>(method: string, params?: Record<string, unknown>) => Promise<T>,
): Promise<Check> {
  const name = 'connector';
  if (!o.connector) return skip(name, "not checked: give the connector's code (--connector)");
  try {
    const list = await call<Record<string, unknown>>('imconnector.list');
    if (!list || typeof list !== 'object' || !(o.connector in list)) {
      return fail(
        name,
        `${o.connector} is not registered on the portal`,
        `run b24-im-gateway connector setup --connector ${o.connector}`,
      );
    }
    const seen = (await o.store.state.lines(o.memberId))
      .filter((l) => !l.deleted && l.connectors.some((c) => c.connector === o.connector))
      .map((l) => l.line);
    // Line 1 is every portal's first Open Line, and setup's default.
    const lines = o.lines ?? (seen.length > 0 ? seen : [1]);
    const active: number[] = [];
    const inactive: number[] = [];
    for (const line of lines) {
      const status = await call<{ STATUS?: unknown }>('imconnector.status', { CONNECTOR: o.connector, LINE: line });
      (status?.STATUS === true ? active : inactive).push(line);
    }
    if (inactive.length > 0) {
      return fail(
        name,
        `${o.connector} is registered; not active on line${inactive.length > 1 ? 's' : ''} ${inactive.join(', ')}${active.length ? ` (active on ${active.join(', ')})` : ''}`,
        `run b24-im-gateway connector setup --connector ${o.connector} ${inactive.map((l) => `--line ${l}`).join(' ')}`,
      );
    }
    return pass(
      name,
      `${o.connector} is registered and active on line${active.length > 1 ? 's' : ''} ${active.join(', ')}`,
    );
  } catch (e) {
    return fail(
      name,
      `imconnector.list or imconnector.status failed: ${message(e)}`,
      "check the application's scopes on the portal (imconnector, imopenlines)",
    );
  }
}

function budget(
  limits: { burst: number; perSecond: number },
  level: number,
  times: { method: string; timed: TimedResult<unknown> }[],
): Check {
  const busiest = times
    .map((t) => ({ method: t.method, operating: Number((t.timed.time as RestTime | undefined)?.operating ?? 0) }))
    .sort((a, b) => b.operating - a.operating)[0];
  const operating =
    busiest && busiest.operating > 0
      ? `; operating time ${busiest.operating.toFixed(1)} s of ${OPERATING_LIMIT_S} s (${busiest.method})`
      : '';
  const detail = `${Math.round(level)} of ${limits.burst} requests in the portal's bucket (drains ${limits.perSecond}/s)${operating}`;
  if (level >= limits.burst)
    return fail(
      'REST budget',
      detail,
      'calls now wait for the bucket: send fewer (statuses and messages already go in batches), or use --plan enterprise if the portal has it',
    );
  if (busiest && busiest.operating > OPERATING_LIMIT_S * 0.8)
    return fail(
      'REST budget',
      detail,
      `${busiest.method} is near its operating-time limit and will answer OPERATION_TIME_LIMIT until a basket resets`,
    );
  return pass('REST budget', detail);
}

function clock(times: { timed: TimedResult<unknown> }[]): Check {
  const seen = times
    .map((t) => ({
      start: Number((t.timed.time as RestTime | undefined)?.start),
      at: (t.timed.sentAt + t.timed.receivedAt) / 2,
      rtt: t.timed.receivedAt - t.timed.sentAt,
    }))
    .filter((t) => t.start > 0);
  if (seen.length === 0) return skip('clock', 'not checked: the portal sent no time');
  // The answer with the shortest round trip places the portal's clock best.
  const best = seen.sort((a, b) => a.rtt - b.rtt)[0]!;
  const skew = Math.round(best.start * 1000 - best.at);
  const detail = `the portal's clock is ${Math.abs(skew) < 1_000 ? 'within a second of' : `${(Math.abs(skew) / 1000).toFixed(0)} s ${skew > 0 ? 'ahead of' : 'behind'}`} this host's`;
  if (Math.abs(skew) > MAX_SKEW_MS)
    return fail(
      'clock',
      detail,
      "set this host's clock (NTP): tokens are refreshed 60 s before their expiry, and the channel's signatures allow 5 minutes",
    );
  return pass('clock', detail);
}

/** What waits in the gateway itself: the inbox, the outboxes; and what this version does not pull. */
async function local(o: DoctorOptions): Promise<Check[]> {
  const events = await o.store.countEvents(['pending', 'retry', 'processing', 'dead']);
  const backlog = events.pending + events.retry + events.processing;
  const inbox =
    events.dead > 0
      ? fail(
          'inbox',
          `${backlog} events waiting (${events.retry} to retry), ${events.dead} dead letters`,
          'b24-im-gateway events --status dead shows why they died; b24-im-gateway replay --dead runs them again once the cause is fixed',
        )
      : pass('inbox', `${backlog} events waiting (${events.retry} to retry), no dead letters`);
  const statuses = await o.store.countStatuses();
  const actions = await o.store.countCustomerActions();
  const outbox =
    statuses.dead + actions.dead > 0
      ? fail(
          'outboxes',
          `${statuses.pending} delivery statuses and ${actions.pending} customer actions waiting; dead: ${statuses.dead} statuses, ${actions.dead} customer actions`,
          'b24-im-gateway connector actions --status dead shows why; b24-im-gateway connector replay --dead sends them again',
        )
      : pass(
          'outboxes',
          `${statuses.pending} delivery statuses and ${actions.pending} customer actions waiting, none dead`,
        );
  return [inbox, outbox, await pulls(o)];
}

/** What waits in the portal's offline queue (event.offline.list): its depth, and records marked failed. */
async function offlineQueue(call: <T>(method: string, params?: Record<string, unknown>) => Promise<T>): Promise<Check> {
  try {
    const all = await call<unknown>('event.offline.list', {});
    const failed = await call<unknown>('event.offline.list', { filter: { ERROR: 1 } });
    const count = (r: unknown) => (Array.isArray(r) ? r.length : 0);
    const depth = count(all);
    const errors = count(failed);
    const detail = `${depth}${depth >= 50 ? ' or more' : ''} records waiting in the portal, ${errors} marked failed`;
    return errors > 0
      ? fail(
          'offline queue',
          detail,
          'records the gateway could not read are kept as invalid events: b24-im-gateway events --status invalid shows them',
        )
      : pass('offline queue', detail);
  } catch (e) {
    return fail(
      'offline queue',
      `event.offline.list failed: ${message(e)}`,
      "event.offline.* need an administrator's token",
    );
  }
}

/** The gateway's pull cursors of the portal: what it pulls, and any it gave up on. */
async function pulls(o: DoctorOptions): Promise<Check> {
  const cursors = await o.store.listPullCursors({ memberId: o.memberId });
  const live = cursors.filter((c) => c.status !== 'gone');
  if (live.length === 0)
    return skip(
      'pulls',
      'nothing pulled from this portal (no fetch-mode bots or offline bindings seen by serve --pull)',
    );
  const name = (c: (typeof live)[number]) =>
    c.kind === 'bot' ? `bot ${c.target}` : c.kind === 'user' ? 'user events' : 'offline queue';
  const parked = live.filter((c) => c.status === 'parked');
  const detail = live
    .map((c) => `${name(c)}: ${c.pulled} pulled${c.lastError ? `, last error ${c.lastError}` : ''}`)
    .join('; ');
  return parked.length > 0
    ? fail(
        'pulls',
        `${parked.map(name).join(', ')} parked after repeated failures; ${detail}`,
        'fix the cause, then b24-im-gateway replay --pulls pulls them again',
      )
    : pass('pulls', detail);
}
