import { GatewayError, type ErrorCode } from '../errors.js';
import { signatureHeaders, type CustomerReceiver, type CustomerResult } from '../customer/intake.js';
import type { HeaderSource } from '../effects/channel/sign.js';
import type { IntakeResult, Receiver } from '../intake/intake.js';
import type { Logger } from '../log.js';
import { TickBatch } from '../tick-batch.js';
import { resolveLimits, type DecodeLimits } from '../wire/limits.js';
import { GatewayThread, type ThreadData } from './gateway-thread.js';

/** Requests as they cross to the thread: the body and its content type. */
export type IntakeBatch = { seq: number; items: [body: Uint8Array, contentType: string | undefined][] };
/** A customer action as it crosses to the thread: the body and the headers its signature is in. */
export type ChannelRequest = { seq: number; channel: [body: Uint8Array, headers: Record<string, string>] };
/** An answer as it crosses back: a GatewayError becomes its JSON. */
export type WireResult =
  | Exclude<IntakeResult, { error: GatewayError }>
  | Exclude<CustomerResult, { error: GatewayError }>
  | { status: number; error: ReturnType<GatewayError['toJSON']>['error']; retryAfter?: number | undefined };
export type IntakeReplies = { seq: number; results: WireResult[] };

/** A batch goes at once when it holds this many, so the thread starts while this one still reads requests. */
const SEND_AT = 16;

export const toWire = (r: IntakeResult | CustomerResult): WireResult =>
  'error' in r ? { status: r.status, error: r.error.toJSON().error, retryAfter: r.error.retryAfter } : r;

const fromWire = (r: WireResult): IntakeResult | CustomerResult =>
  'error' in r
    ? {
        status: r.status,
        error: new GatewayError(r.error.code as ErrorCode, r.error.message, {
          ...(r.error.path === undefined ? {} : { path: r.error.path }),
          ...(r.retryAfter === undefined ? {} : { retryAfter: r.retryAfter }),
        }),
      }
    : r;

const stoppedError = () => new GatewayError('B24GW_SHUTTING_DOWN', 'The intake thread stopped before it answered');

/** Requests sent to the thread and not answered yet, at most: more are answered 503 here. */
const DEFAULT_MAX_PENDING = 2_048;

/**
 * The intake (decode, validate, verify, store) on a thread of its own: the thread
 * that owns the sockets only reads bodies and writes answers. What one turn of its event loop
 * reads goes over as one message; answers come back the same way.
 */
export class IntakeThread extends GatewayThread<IntakeBatch | ChannelRequest, IntakeReplies> implements Receiver {
  readonly limits: DecodeLimits;
  /** Takes the channel's signed requests on the thread, one message each. */
  readonly customers: CustomerReceiver = { receive: (body, headers) => this.receiveFromChannel(body, headers) };
  /** Sequence numbers of the customer actions in flight: their answers wake the customer sender, not the worker. */
  private readonly channelSeqs = new Set<number>();
  private readonly batch = new TickBatch<{
    body: Uint8Array;
    contentType: string | undefined;
    resolve: (r: IntakeResult | CustomerResult) => void;
  }>(SEND_AT, (list) => {
    const seq = ++this.seq;
    this.inFlight.set(
      seq,
      list.map((q) => q.resolve),
    );
    this.post({ seq, items: list.map((q) => [q.body, q.contentType]) });
  });
  private readonly inFlight = new Map<number, ((r: IntakeResult | CustomerResult) => void)[]>();
  private seq = 0;
  private outstanding = 0;
  private readonly maxPending: number;

  /** `onStored` sees each event the thread committed, as the intake's own option does; `onCustomerStored` each customer action. */
  constructor(
    data: Omit<ThreadData, 'role'>,
    logger: Logger,
    onExit: (code: number) => void,
    onStored?: (id: number, code: string, duplicate: boolean) => void,
    onCustomerStored?: (id: number, duplicate: boolean) => void,
  ) {
    super({ ...data, role: 'intake' }, logger, onExit, ({ seq, results }) => {
      const waiting = this.inFlight.get(seq) ?? [];
      this.inFlight.delete(seq);
      this.outstanding -= waiting.length;
      const customer = this.channelSeqs.delete(seq);
      results.forEach((r, i) => {
        if (r.status === 200 && 'id' in r) {
          if (customer) onCustomerStored?.(r.id, r.duplicate);
          else if ('code' in r) onStored?.(r.id, r.code, r.duplicate);
        }
        waiting[i]?.(fromWire(r));
      });
    });
    this.limits = resolveLimits(data.gateway.limits);
    this.maxPending = data.gateway.maxPending ?? DEFAULT_MAX_PENDING;
  }

  /** The thread is gone: what waits for it is answered, not knowing whether it was stored. */
  protected override gone(): void {
    const error = stoppedError();
    const waiting = [...this.inFlight.values()].flat();
    this.inFlight.clear();
    for (const q of this.batch.drop()) waiting.push(q.resolve);
    this.outstanding = 0;
    this.channelSeqs.clear();
    for (const resolve of waiting) resolve({ status: error.status, error });
  }

  receive(body: Uint8Array | string, contentType: string | null | undefined): Promise<IntakeResult> {
    if (this.exited) {
      const error = stoppedError();
      return Promise.resolve({ status: error.status, error });
    }
    if (this.outstanding >= this.maxPending) {
      const error = new GatewayError('B24GW_BUSY', `More than ${this.maxPending} deliveries are in progress`);
      return Promise.resolve({ status: error.status, error });
    }
    this.outstanding++;
    return new Promise((resolve) =>
      this.batch.push({
        body: typeof body === 'string' ? Buffer.from(body) : body,
        contentType: contentType ?? undefined,
        resolve: resolve as (r: IntakeResult | CustomerResult) => void,
      }),
    );
  }

  private receiveFromChannel(body: Uint8Array | string, headers: HeaderSource): Promise<CustomerResult> {
    const refusal = this.exited
      ? stoppedError()
      : this.outstanding >= this.maxPending
        ? new GatewayError('B24GW_BUSY', `More than ${this.maxPending} deliveries are in progress`)
        : undefined;
    if (refusal) return Promise.resolve({ status: refusal.status, error: refusal });
    const plain: Record<string, string> = {};
    for (const name of signatureHeaders) {
      const value = headers instanceof Headers ? headers.get(name) : headers[name];
      if (typeof value === 'string') plain[name] = value;
    }
    this.outstanding++;
    const seq = ++this.seq;
    this.channelSeqs.add(seq);
    return new Promise((resolve) => {
      this.inFlight.set(seq, [resolve as (r: IntakeResult | CustomerResult) => void]);
      this.post({ seq, channel: [typeof body === 'string' ? Buffer.from(body) : body, plain] });
    });
  }
}
