/**
 * Test double: a small Bitrix24 REST + OAuth server on a real socket, for this folder's tests.
 * Refresh tokens work once and access tokens expire, as on oauth.bitrix.info.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../../../store/types.js';
import { decodeForm } from '../../../wire/form.js';

export interface Pair {
  access_token: string;
  refresh_token: string;
  expires: number;
  expires_in: number;
}

/** An answer a fault hook forces instead of running the method. */
export interface Forced {
  status: number;
  body: Record<string, unknown>;
}

export class MethodError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(code);
  }
}

type Handler = (params: Record<string, unknown>) => unknown;

export interface FakeOptions {
  memberId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Delay before answering /oauth/token/ (widens the window for concurrent refreshes). */
  oauthDelayMs?: number;
}

const token = () => randomBytes(16).toString('hex');

export async function startFakeB24(o: FakeOptions = {}) {
  const memberId = o.memberId ?? 'member-1';
  const clientId = o.clientId ?? 'local.app.1';
  const clientSecret = o.clientSecret ?? 'client-secret-0123456789';
  const access = new Map<string, { expiresAt: number }>();
  const refresh = new Map<string, { used: boolean }>();
  /** Every REST request as it arrived (a batch is one). */
  const requests: { method: string; token: string; body: Record<string, unknown> }[] = [];
  /** Every method run, nested batch commands included. */
  const commands: { method: string; params: Record<string, unknown>; inBatch: boolean }[] = [];
  const refreshes: { refreshToken: string; ok: boolean }[] = [];
  /** Shared with tests: `rest:<token>` per REST request, tests add their own entries. */
  const timeline: string[] = [];
  let resetAt = Math.floor(Date.now() / 1000) + 600;
  const hooks: {
    fault?: (method: string, body: Record<string, unknown>, n: number) => Forced | undefined;
    /** Delay before answering a REST request (after its answer is decided). */
    delay?: (method: string, answerStatus: number) => number;
  } = {};

  const issue = (ttlSeconds = 3600): Pair => {
    const pair = { access_token: token(), refresh_token: token(), expires: Math.floor(Date.now() / 1000) + ttlSeconds, expires_in: ttlSeconds };
    access.set(pair.access_token, { expiresAt: Date.now() + ttlSeconds * 1000 });
    refresh.set(pair.refresh_token, { used: false });
    return pair;
  };

  const time = () => ({ start: Date.now() / 1000, finish: Date.now() / 1000, duration: 0.001, processing: 0.001, date_start: '', date_finish: '', operating: 0.01, operating_reset_at: resetAt });

  const methods: Record<string, Handler> = {
    'app.info': () => ({ ID: '7', CODE: clientId, STATUS: 'L', INSTALLED: true }),
    'user.admin': () => true,
    'imconnector.send.status.delivery': (p) => {
      if (!p.CONNECTOR) throw new MethodError('ERROR_ARGUMENT', "Argument 'CONNECTOR' is null or empty");
      if (!p.LINE) throw new MethodError('ERROR_ARGUMENT', "Argument 'LINE' is null or empty");
      const list = Array.isArray(p.MESSAGES) ? p.MESSAGES : p.MESSAGES && typeof p.MESSAGES === 'object' ? Object.values(p.MESSAGES) : [];
      if (list.length === 0) throw new MethodError('ERROR_ARGUMENT', "Argument 'MESSAGES' is null or empty");
      for (const m of list as { message?: { id?: unknown } }[]) {
        if (!Array.isArray(m.message?.id)) throw new MethodError('ERROR_ARGUMENT', 'message.id must be a list');
      }
      if (String(p.CONNECTOR).startsWith('unknown')) throw new MethodError('IMCONNECTOR_NO_CORRECT_PROVIDER', 'Unable to find a suitable provider for the connector');
      return { SUCCESS: true, DATA: [] };
    },
  };

  const run = (method: string, params: Record<string, unknown>, inBatch: boolean): unknown => {
    commands.push({ method, params, inBatch });
    const h = methods[method];
    if (!h) throw new MethodError('ERROR_METHOD_NOT_FOUND', 'Method not found!', 404);
    return h(params);
  };

  const batch = (body: Record<string, unknown>) => {
    const cmd = (body.cmd ?? {}) as Record<string, string>;
    const halt = Number(body.halt) === 1;
    const result: Record<string, unknown> = {};
    const result_error: Record<string, unknown> = {};
    const result_time: Record<string, unknown> = {};
    for (const [key, row] of Object.entries(cmd)) {
      const q = row.indexOf('?');
      const method = q < 0 ? row : row.slice(0, q);
      try {
        result[key] = run(method, q < 0 ? {} : (decodeForm(row.slice(q + 1)) as Record<string, unknown>), true);
        result_time[key] = time();
      } catch (e) {
        const me = e instanceof MethodError ? e : new MethodError('INTERNAL_SERVER_ERROR', String(e), 500);
        result_error[key] = { error: me.code, error_description: me.description };
        if (halt) break;
      }
    }
    // PHP encodes an empty array as [], as Bitrix24 does.
    const obj = (v: Record<string, unknown>) => (Object.keys(v).length ? v : []);
    return { result: obj(result), result_error: obj(result_error), result_total: [], result_next: [], result_time: obj(result_time) };
  };

  const answer = (res: ServerResponse, status: number, body: unknown, delayMs = 0) => {
    const send = () => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  };

  const onOAuth = (raw: string, res: ServerResponse) => {
    const f = new URLSearchParams(raw);
    const rt = f.get('refresh_token') ?? '';
    const reply = (status: number, body: unknown) => answer(res, status, body, o.oauthDelayMs ?? 0);
    if (f.get('client_id') !== clientId || f.get('client_secret') !== clientSecret) return reply(401, { error: 'invalid_client', error_description: 'Invalid client' });
    const grant = refresh.get(rt);
    if (f.get('grant_type') !== 'refresh_token' || !grant || grant.used) {
      refreshes.push({ refreshToken: rt, ok: false });
      return reply(400, { error: 'invalid_grant', error_description: 'Invalid authorization data' });
    }
    grant.used = true;
    refreshes.push({ refreshToken: rt, ok: true });
    const pair = issue();
    reply(200, { ...pair, member_id: memberId, domain: 'oauth.fake', scope: 'imopenlines,imconnector', status: 'L', client_endpoint: `${origin}/rest/`, server_endpoint: `${origin}/rest/` });
  };

  const onRest = (method: string, raw: string, contentType: string, res: ServerResponse) => {
    const body = (contentType.includes('json') ? JSON.parse(raw || '{}') : decodeForm(raw)) as Record<string, unknown>;
    const auth = String(body.auth ?? '');
    requests.push({ method, token: auth, body });
    timeline.push(`rest:${auth}`);
    const n = requests.filter((r) => r.method === method).length;
    const reply = (status: number, b: unknown) => answer(res, status, b, hooks.delay?.(method, status) ?? 0);
    const grant = access.get(auth);
    if (!grant) return reply(401, { error: 'invalid_token', error_description: 'The access token provided is invalid.' });
    if (Date.now() >= grant.expiresAt) return reply(401, { error: 'expired_token', error_description: 'The access token provided has expired.' });
    const forced = hooks.fault?.(method, body, n);
    if (forced) return reply(forced.status, forced.body);
    const { auth: _auth, ...params } = body;
    try {
      reply(200, { result: method === 'batch' ? batch(params) : run(method, params, false), time: time() });
    } catch (e) {
      const me = e instanceof MethodError ? e : new MethodError('INTERNAL_SERVER_ERROR', String(e), 500);
      reply(me.status, { error: me.code, error_description: me.description });
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/oauth/token/') return onOAuth(raw, res);
      const m = /^\/rest\/([\w.]+?)(?:\.json)?$/.exec(path);
      if (m?.[1]) return onRest(m[1], raw, req.headers['content-type'] ?? '', res);
      answer(res, 404, { error: 'NOT_FOUND', error_description: path });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    memberId,
    clientId,
    clientSecret,
    origin,
    domain: `127.0.0.1:${port}`,
    requests,
    commands,
    refreshes,
    timeline,
    hooks,
    methods,
    issue,
    /** Makes an access token expired on the server only (the store still thinks it is good). */
    expire: (accessToken: string) => access.set(accessToken, { expiresAt: 0 }),
    setResetAt: (unixSeconds: number) => (resetAt = unixSeconds),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export type FakeB24 = Awaited<ReturnType<typeof startFakeB24>>;

/** Puts a portal into the store the way an install does. */
export async function installPortal(store: Store, fake: FakeB24, pair: Pair, o: { expiresAt?: number; serverEndpoint?: string } = {}): Promise<void> {
  const now = Date.now();
  await store.append(
    {
      dedupKey: `install-${fake.memberId}-${pair.access_token}`,
      memberId: fake.memberId,
      code: 'ONAPPINSTALL',
      known: true,
      status: 'invalid',
      handlerId: null,
      ts: null,
      orderKey: null,
      receivedAt: now,
      event: '{}',
      rawBody: '',
      contentType: 'form',
      error: null,
    },
    {
      kind: 'install',
      portal: {
        memberId: fake.memberId,
        domain: fake.domain,
        applicationToken: 'app-token',
        accessToken: pair.access_token,
        refreshToken: pair.refresh_token,
        expiresAt: o.expiresAt ?? pair.expires * 1000,
        clientEndpoint: `${fake.origin}/rest/`,
        serverEndpoint: o.serverEndpoint ?? `${fake.origin}/rest/`,
        scope: 'imopenlines,imconnector',
        status: 'L',
        installedAt: now,
        uninstalledAt: null,
        updatedAt: now,
      },
    },
  );
}

/**
 * A clock for tests: `sleep` schedules a wake-up, and wake-ups are released one per
 * event-loop turn in time order, moving `now` to each one's time.
 */
export class FakeClock {
  t: number;
  readonly #timers: { at: number; seq: number; resolve: () => void }[] = [];
  #seq = 0;
  #pumping = false;

  constructor(start = Date.now()) {
    this.t = start;
  }

  now = (): number => this.t;

  sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#timers.push({ at: this.t + Math.max(0, ms), seq: this.#seq++, resolve });
      this.#pump();
    });

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    setImmediate(() => {
      this.#pumping = false;
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers.shift();
      if (!next) return;
      this.t = Math.max(this.t, next.at);
      next.resolve();
      if (this.#timers.length > 0) this.#pump();
    });
  }
}
