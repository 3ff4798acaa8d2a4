import type { SandboxCore } from '../core.js';
import { methods } from '../methods/index.js';
import type { Portal } from '../portal.js';
import type { CallRecord } from '../recorder.js';
import { Paged, RestError, timeBlock } from './answer.js';
import { runBatch } from './batch.js';
import { upperKeys, type Params } from './params.js';

export interface RestRequest {
  /** Method name from the path, without `.json`. */
  method: string;
  /** Query and body parameters merged (body wins), `auth` included. */
  params: Params;
  transport: 'json' | 'form' | 'query';
  /** What PHP warned about (and dropped) while reading the parameters. */
  warnings?: string[];
  /** Host header: a token used on another portal's domain is refused. */
  host?: string;
  /** An incoming webhook's call (`/rest/<userId>/<code>/<method>`): its path names the caller instead of `auth`. */
  webhook?: { userId: number; code: string };
}

export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Who is calling: resolved from `auth` before anything else runs. */
export interface Caller {
  portal: Portal;
  userId: number;
  /** An incoming webhook's code when the call came through one; OAuth calls have none. */
  hook?: string;
}

/** Outcome of one method run, shared by direct calls and batch commands. */
export interface MethodOutcome {
  status: number;
  result?: unknown;
  /** A list's `total` and `next` (see Paged). */
  total?: number;
  next?: number;
  error?: RestError;
  time: ReturnType<typeof timeBlock>;
}

const withoutAuth = ({ auth: _auth, ...rest }: Params): Params => rest;

/** Answers one HTTP call to /rest/<method>: auth, the portal's leaky bucket, then the method or batch. */
export async function handleRest(core: SandboxCore, req: RestRequest): Promise<RestAnswer> {
  const started = core.clock.now();
  const t0 = performance.now();
  const method = req.method.toLowerCase();
  let caller: Caller | undefined;
  let answer: RestAnswer;
  const batchRecords: CallRecord[] = [];
  try {
    caller = authorize(core, req);
    const limit = core.faults.rateLimit;
    if (limit && !core.bucket(caller.portal).take(core.clock.now(), limit)) {
      throw new RestError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests');
    }
    if (method === 'batch') {
      forcedError(core, 'batch', () =>
        timeBlock(started, core.clock.now(), 0, { operating: 0, resetAt: Math.floor(core.clock.now() / 1000) + 600 }),
      );
      answer = await runBatch(core, caller, req.params, started, batchRecords);
    } else {
      const outcome = await runMethod(core, caller, method, req.params, started);
      answer = outcome.error
        ? { status: outcome.status, body: outcome.error.body() }
        : {
            status: 200,
            body: {
              result: outcome.result,
              ...(outcome.total === undefined ? {} : { total: outcome.total }),
              ...(outcome.next === undefined ? {} : { next: outcome.next }),
              time: outcome.time,
            },
          };
    }
  } catch (e) {
    const error = e instanceof RestError ? e : internal(e);
    answer = { status: error.status, body: error.body() };
  }
  const record = core.recorder.add('call', {
    at: started,
    ...(caller ? { memberId: caller.portal.memberId, userId: caller.userId } : {}),
    method,
    params: withoutAuth(req.params),
    ...(typeof req.params.auth === 'string' ? { accessToken: req.params.auth } : {}),
    ...(req.warnings?.length ? { warnings: req.warnings } : {}),
    transport: req.transport,
    httpStatus: answer.status,
    ...errorFields(answer.body),
    durationMs: performance.now() - t0,
  });
  for (const r of batchRecords) r.batchSeq = record.seq;
  return answer;
}

function authorize(core: SandboxCore, req: RestRequest): Caller {
  if (req.webhook) {
    const { userId, code } = req.webhook;
    const portal = core.portals.find((p) => p.webhooks.get(code)?.userId === userId);
    if (!portal) throw new RestError(401, 'INVALID_CREDENTIALS', 'Invalid request credentials');
    return { portal, userId, hook: code };
  }
  const token = typeof req.params.auth === 'string' ? req.params.auth : '';
  if (!token) throw new RestError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
  const check = core.tokens.check(token);
  if ('error' in check) {
    throw check.error === 'expired_token'
      ? new RestError(401, 'expired_token', 'The access token provided has expired.')
      : new RestError(401, 'invalid_token', 'The access token provided is invalid.');
  }
  const { portal, userId } = check.grant;
  // Portals with their own domain only accept their own tokens; shared domains are told apart by the token alone.
  const host = req.host?.toLowerCase();
  if (host && portal.domain.toLowerCase() !== host && core.portals.some((p) => p.domain.toLowerCase() === host)) {
    throw new RestError(401, 'invalid_token', 'The access token provided is invalid.');
  }
  return { portal, userId };
}

/** Takes one use of a switch that counts its `times`; the switch is gone after the last. */
function spend<T extends { times?: number }>(switches: Record<string, T>, key: string): T | undefined {
  const forced = Object.hasOwn(switches, key) ? switches[key] : undefined;
  if (forced?.times !== undefined && --forced.times <= 0) delete switches[key];
  return forced;
}

/** Answers with the error a `methodErrors` switch sets for this method (or for `*`), if any. */
function forcedError(core: SandboxCore, method: string, time: () => ReturnType<typeof timeBlock>): void {
  const errors = core.faults.methodErrors;
  const fault = spend(errors, Object.hasOwn(errors, method) ? method : '*');
  if (!fault) return;
  const extra =
    fault.operatingResetAt === undefined ? {} : { time: { ...time(), operating_reset_at: fault.operatingResetAt } };
  throw new RestError(fault.status, fault.error, fault.description ?? fault.error, extra);
}

/**
 * Runs one method for a caller: forced errors, the operating-time limit, the method
 * itself, then charges its run time. Never throws; errors come back in the outcome.
 */
export async function runMethod(
  core: SandboxCore,
  caller: Caller,
  method: string,
  params: Params,
  started: number,
): Promise<MethodOutcome> {
  const budget = core.budget(caller.portal, method);
  const rule = core.operatingRule(method);
  const time = (processingMs: number) => {
    const now = core.clock.now();
    return timeBlock(started, Math.max(now, started), processingMs, {
      operating: budget.operating(now),
      resetAt: budget.resetAt(now),
    });
  };
  const t0 = performance.now();
  try {
    forcedError(core, method, () => time(0));
    const handler = methods[method];
    if (!handler) throw new RestError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!');
    if (budget.blocked(core.clock.now(), rule.limitSeconds)) {
      // Real portals send no time block here; the sandbox adds one so a client can see the reset moment.
      throw new RestError(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.', {
        time: time(0),
      });
    }
    const raw = withoutAuth(params);
    const forced = spend(core.faults.methodResults, method);
    const result = forced
      ? forced.result
      : await handler({
          core,
          portal: caller.portal,
          userId: caller.userId,
          ...(caller.hook === undefined ? {} : { hook: caller.hook }),
          params: upperKeys(raw),
          raw,
        });
    const processingMs = performance.now() - t0;
    budget.spend(core.clock.now(), rule.costSeconds ?? processingMs / 1000);
    if (result instanceof Paged)
      return { status: 200, result: result.result, total: result.total, next: result.next, time: time(processingMs) };
    return { status: 200, result, time: time(processingMs) };
  } catch (e) {
    const error = e instanceof RestError ? e : internal(e);
    return { status: error.status, error, time: time(performance.now() - t0) };
  }
}

function internal(e: unknown): RestError {
  return new RestError(500, 'INTERNAL_SERVER_ERROR', e instanceof Error ? e.message : String(e));
}

function errorFields(body: Record<string, unknown>): Pick<CallRecord, 'error' | 'errorDescription'> {
  if (typeof body.error !== 'string') return {};
  return { error: body.error, errorDescription: String(body.error_description ?? '') };
}
