import { decodeForm } from '../php/decode.js';
import type { SandboxCore } from '../core.js';
import type { CallRecord } from '../recorder.js';
import { argumentError, RestError, timeBlock } from './answer.js';
import { runMethod, type Caller, type RestAnswer } from './dispatch.js';
import { asList, isObject, phpEmpty, type Params } from './params.js';

export const MAX_BATCH_COMMANDS = 50;

/** Keyed results that render as PHP arrays do in JSON: a list when keyed 0..n-1, else an object. */
class PhpArray {
  readonly #entries: [string, unknown][] = [];
  set(key: string, value: unknown): void {
    this.#entries.push([key, value]);
  }
  toJSON(): unknown {
    return this.#entries.every(([k], i) => k === String(i))
      ? this.#entries.map(([, v]) => v)
      : Object.fromEntries(this.#entries);
  }
}

/** The commands as [key, "method?query"] pairs, from a cmd map or list. */
function commands(params: Params): [string, string][] {
  const cmd = params.cmd ?? params.CMD;
  if (phpEmpty(cmd)) return [];
  const list = asList(cmd);
  const entries: [string, unknown][] = list
    ? list.map((v, i) => [String(i), v])
    : isObject(cmd)
      ? Object.entries(cmd)
      : [];
  if (entries.length === 0) throw argumentError("The value of an argument 'cmd' must be of type array");
  return entries.map(([k, v]) => [k, typeof v === 'string' ? v : '']);
}

/** `$result[key][field]...` in a command's values refers to an earlier command's result. */
const REF = /\$result\[([^\]]+)\]((?:\[[^\]]*\])*)/g;

function resolve(results: Map<string, unknown>, key: string, path: string): unknown {
  let value = results.get(key);
  for (const [, part] of path.matchAll(/\[([^\]]*)\]/g)) {
    value = isObject(value) || Array.isArray(value) ? (value as Record<string, unknown>)[part!] : undefined;
  }
  return value;
}

function substitute(value: unknown, results: Map<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = [...value.matchAll(REF)];
    if (whole.length === 1 && whole[0]![0] === value) return resolve(results, whole[0]![1]!, whole[0]![2]!) ?? '';
    return value.replace(REF, (_m, key: string, path: string) => {
      const v = resolve(results, key, path);
      return v === undefined || v === null || typeof v === 'object' ? '' : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, results));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, results)]));
  return value;
}

/**
 * `batch`: up to 50 commands run in order under the caller's token, one HTTP request
 * for the leaky bucket, each command checked against its own operating-time limit.
 * `halt=1` stops at the first error.
 */
export async function runBatch(
  core: SandboxCore,
  caller: Caller,
  params: Params,
  started: number,
  records: CallRecord[],
): Promise<RestAnswer> {
  const list = commands(params);
  if (list.length > MAX_BATCH_COMMANDS)
    throw new RestError(400, 'ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded');
  const halt = !phpEmpty(params.halt ?? params.HALT);
  const done = new Map<string, unknown>();
  const out = {
    result: new PhpArray(),
    result_error: new PhpArray(),
    result_total: new PhpArray(),
    result_next: new PhpArray(),
    result_time: new PhpArray(),
  };

  for (const [key, command] of list) {
    const at = core.clock.now();
    const t0 = performance.now();
    const q = command.indexOf('?');
    const method = (q < 0 ? command : command.slice(0, q)).trim().toLowerCase();
    const query = q < 0 ? '' : command.slice(q + 1);
    let cmdParams: Params = {};
    let outcome;
    if (method === 'batch' || method === '') {
      const error = method
        ? new RestError(400, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage')
        : argumentError('Command has no method');
      outcome = {
        status: error.status,
        error,
        time: timeBlock(at, at, 0, { operating: 0, resetAt: Math.floor(at / 1000) + 600 }),
      };
    } else {
      try {
        cmdParams = query ? (substitute(decodeForm(query).params, done) as Params) : {};
        outcome = await runMethod(core, caller, method, { ...cmdParams, auth: params.auth }, at);
      } catch (e) {
        const error = argumentError(`Command query could not be read: ${(e as Error).message}`);
        outcome = {
          status: error.status,
          error,
          time: timeBlock(at, at, 0, { operating: 0, resetAt: Math.floor(at / 1000) + 600 }),
        };
      }
    }
    if (outcome.error) out.result_error.set(key, outcome.error.body());
    else {
      done.set(key, outcome.result);
      out.result.set(key, outcome.result);
      const r = outcome.result as { total?: unknown; next?: unknown } | null;
      if (isObject(r) && r.total !== undefined) out.result_total.set(key, r.total);
      if (isObject(r) && r.next !== undefined) out.result_next.set(key, r.next);
    }
    out.result_time.set(key, outcome.time);
    records.push(
      core.recorder.add('call', {
        at,
        memberId: caller.portal.memberId,
        userId: caller.userId,
        method,
        params: cmdParams,
        transport: 'batch',
        httpStatus: outcome.status,
        ...(outcome.error ? { error: outcome.error.code, errorDescription: outcome.error.description } : {}),
        durationMs: performance.now() - t0,
      }),
    );
    if (outcome.error && halt) break;
  }
  const now = core.clock.now();
  // The outer batch call is not charged operating time; its own time block says so.
  return {
    status: 200,
    body: {
      result: out,
      time: timeBlock(started, Math.max(now, started), 0, { operating: 0, resetAt: Math.floor(now / 1000) + 600 }),
    },
  };
}
