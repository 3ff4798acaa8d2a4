import { STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import { GatewayError } from '../../errors.js';
import type { RetryHint } from '../../queue/schedule.js';
import { sign } from './sign.js';
import { AnswerError } from '../../wire/capped.js';
import type { ChannelPayload } from './types.js';

export interface ChannelTarget {
  url: string;
  /** `whsec_...`, shared with the channel. */
  secret: string;
  /** Whole attempt, answer included. Default 10 s. */
  timeoutMs?: number;
  /** Posts with this instead of undici's `request` over the thread's kept-alive connections. */
  fetch?: typeof fetch;
  userAgent?: string;
}

export interface Delivered {
  status: number;
  ms: number;
  /**
   * The channel's own ids for the message, when its 2xx answer says
   * `{"externalMessageIds": [...]}` (or `"externalMessageId"`): needed to confirm a new message.
   */
  externalIds?: string[];
}

/** `answer`: a 2xx whose answer could not be read whole (larger than 64 KiB, or cut short), so its ids are unknown. */
export type DeliveryFailure = 'http' | 'redirect' | 'timeout' | 'network' | 'config' | 'answer';

/** Statuses that say "try again later" rather than "this request is wrong". */
const TRANSIENT = new Set([408, 409, 425, 429]);
/** What of an answer goes into error messages and logs. */
const SNIPPET_CHARS = 200;
/** The most of a 2xx answer read for its ids; a larger one is refused. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * A delivery that did not get a 2xx. The worker retries every failure (the product rule:
 * "2xx means delivered, anything else is retried"); `retryable` only says whether a retry
 * is likely to help, for logs and alerting.
 */
export class ChannelDeliveryError extends GatewayError implements RetryHint {
  readonly kind: DeliveryFailure;
  /** The channel's HTTP status, when it answered; `status` is the gateway's, 502. */
  readonly httpStatus: number | undefined;
  readonly retryable: boolean;
  /** From a Retry-After header: the worker waits at least this long. */
  readonly retryAfterMs: number | undefined;
  /** The start of the answer's body, whitespace collapsed. */
  readonly body: string | undefined;
  readonly deliveryId: string;

  constructor(
    message: string,
    o: {
      kind: DeliveryFailure;
      deliveryId: string;
      retryable: boolean;
      status?: number;
      retryAfterMs?: number;
      body?: string;
      cause?: unknown;
    },
  ) {
    super('B24GW_CHANNEL_DELIVERY_FAILED', message, { cause: o.cause });
    this.name = 'ChannelDeliveryError';
    this.kind = o.kind;
    this.deliveryId = o.deliveryId;
    this.retryable = o.retryable;
    this.httpStatus = o.status;
    this.retryAfterMs = o.retryAfterMs;
    this.body = o.body;
  }
}

/**
 * POSTs one signed payload. Resolves on a 2xx whose answer was read; anything else throws a
 * ChannelDeliveryError. `abort` (a handler's ctx.signal) stops the attempt, throwing its reason.
 */
export async function deliverToChannel(
  options: ChannelTarget,
  payload: ChannelPayload,
  abort?: AbortSignal,
): Promise<Delivered> {
  const started = performance.now();
  const deliveryId = payload.id;
  const fail = (message: string, o: Omit<ConstructorParameters<typeof ChannelDeliveryError>[1], 'deliveryId'>) =>
    new ChannelDeliveryError(`Delivery ${deliveryId} failed: ${message}`, { ...o, deliveryId });

  let url: URL;
  let signature: string;
  const body = JSON.stringify(payload);
  // A new timestamp per attempt (the spec's replay guard); the id stays the same.
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    url = new URL(options.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new GatewayError('B24GW_BAD_CONFIG', `unsupported protocol ${url.protocol}`);
    signature = sign(options.secret, deliveryId, timestamp, body);
  } catch (e) {
    throw fail(`channel is misconfigured: ${(e as Error).message}`, { kind: 'config', retryable: false, cause: e });
  }
  // Only the origin goes into messages: a path or query may hold a token.
  const where = url.origin;

  const timeoutMs = options.timeoutMs ?? 10_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = abort ? AbortSignal.any([timeout, abort]) : timeout;
  abort?.throwIfAborted();
  let res: Answer;
  try {
    res = await post(
      options.fetch,
      url,
      {
        'content-type': 'application/json',
        'user-agent': options.userAgent ?? 'b24-im-gateway',
        'webhook-id': deliveryId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      },
      body,
      signal,
    );
  } catch (e) {
    abort?.throwIfAborted();
    if (signal.aborted)
      throw fail(`${where} did not answer within ${timeoutMs} ms`, { kind: 'timeout', retryable: true, cause: e });
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.message ?? (e as Error).message;
    throw fail(`${where} could not be reached: ${reason}`, { kind: 'network', retryable: true, cause: e });
  }

  if (res.status >= 200 && res.status < 300) {
    const status = res.status;
    let answer: string;
    try {
      answer = await readAnswer(res);
    } catch (e) {
      abort?.throwIfAborted();
      if (e === tooLarge) {
        throw fail(
          `${where} answered ${status} with more than ${MAX_ANSWER_BYTES / 1024} KiB; the answer is refused unread, and the delivery not counted: answer {"externalMessageIds": [...]} alone`,
          {
            kind: 'answer',
            retryable: false,
            status,
          },
        );
      }
      const why = signal.aborted ? `not read within ${timeoutMs} ms` : `cut short (${(e as Error).message})`;
      throw fail(`${where} answered ${status}, but its answer was ${why}; the delivery is not counted`, {
        kind: 'answer',
        retryable: true,
        status,
        cause: e,
      });
    }
    const externalIds = idsFromAnswer(answer);
    return { status, ms: Math.round(performance.now() - started), ...(externalIds ? { externalIds } : {}) };
  }

  const snippet = await readSnippet(res);
  const retryAfterMs = parseRetryAfter(res.header('retry-after'));
  const status = res.status;
  const answered = `${where} answered ${status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (status >= 300 && status < 400) {
    const location = res.header('location');
    throw fail(
      `${answered}, a redirect${location ? ` to ${location}` : ''}; redirects are not followed, update the channel URL`,
      {
        kind: 'redirect',
        retryable: false,
        status,
        retryAfterMs,
        body: snippet,
      },
    );
  }
  throw fail(`${answered}${snippet ? `: ${snippet}` : ''}`, {
    kind: 'http',
    retryable: status >= 500 || TRANSIENT.has(status),
    status,
    retryAfterMs,
    body: snippet,
  });
}

/** Retry-After as delta-seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^[0-9]{1,10}$/.test(v)) return Number(v) * 1000;
  // HTTP dates start with the day's name; Date.parse alone would also take "-5" as a year.
  const at = /^[A-Za-z]/.test(v) ? Date.parse(v) : NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The channel's ids for the message from a whole answer, `{"externalMessageIds": [...]}` or `{"externalMessageId": ...}`. */
function idsFromAnswer(text: string): string[] | undefined {
  let answer: { externalMessageIds?: unknown; externalMessageId?: unknown };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    return undefined;
  }
  const ids =
    answer?.externalMessageIds ?? (answer?.externalMessageId === undefined ? undefined : [answer.externalMessageId]);
  return Array.isArray(ids) && ids.length > 0 && ids.every((i) => typeof i === 'string' || typeof i === 'number')
    ? ids.map(String)
    : undefined;
}

const tooLarge = new AnswerError('answer too large');

/** A 2xx answer whole, up to MAX_ANSWER_BYTES: its ids may come anywhere in it. Throws `tooLarge` past that. */
async function readAnswer(res: Answer): Promise<string> {
  if (Number(res.header('content-length')) > MAX_ANSWER_BYTES) {
    await res.discard();
    throw tooLarge;
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    for await (const chunk of res.body) {
      bytes += chunk.byteLength;
      if (bytes > MAX_ANSWER_BYTES) throw tooLarge;
      chunks.push(chunk);
    }
  } finally {
    await res.discard();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The first characters of an answer for a message, reading no more than needed: an error page can be large. */
async function readSnippet(res: Answer): Promise<string> {
  const limit = SNIPPET_CHARS * 4;
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length >= limit) break;
    }
  } catch {
    // A body cut short (timeout, reset) still leaves the status to report.
  } finally {
    await res.discard();
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS);
}

/** What a delivery reads of the channel's answer, whichever client posted. */
interface Answer {
  status: number;
  statusText: string;
  header(name: string): string | null;
  body: AsyncIterable<Uint8Array>;
  /** Stops reading; what is left is dropped. */
  discard(): Promise<void>;
}

/** Loaded by the first delivery: a thread that only receives never pays for its code (about 5 MB). */
let undiciModule: typeof Undici | undefined;
const undici = (): typeof Undici => (undiciModule ??= createRequire(import.meta.url)('undici') as typeof Undici);

const noBody: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: async function* () {} };

/**
 * POSTs with undici's `request` (kept-alive connections, a fifth of `fetch`'s CPU per request), or
 * with the `fetch` given. A redirect is answered as it is: the spec counts it a failure.
 */
async function post(
  fetcher: typeof fetch | undefined,
  url: URL,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<Answer> {
  if (fetcher) {
    const res = await fetcher(url, { method: 'POST', headers, body, redirect: 'manual', signal });
    return {
      status: res.status,
      statusText: res.statusText,
      header: (name) => res.headers.get(name),
      body: res.body ?? noBody,
      discard: async () => void (await res.body?.cancel().catch(() => undefined)),
    };
  }
  const res = await undici().request(url, { method: 'POST', headers, body, signal, maxRedirections: 0 });
  return {
    status: res.statusCode,
    statusText: STATUS_CODES[res.statusCode] ?? '',
    header: (name) => {
      const v = res.headers[name];
      return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
    },
    body: res.body,
    // Read to its end (up to undici's limit) so that the connection is kept for the next delivery.
    discard: () => res.body.dump().catch(() => undefined),
  };
}
