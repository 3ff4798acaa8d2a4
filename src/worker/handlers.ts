import type { EventCode, EventMap, KnownEvent, UnknownEvent } from '../events/registry.js';
import { normalizeCode } from '../events/registry.js';
import { GatewayError } from '../errors.js';
import { retryHintMs, type RetryHint } from '../queue/schedule.js';
import type { HandlerContext } from './context.js';

export type AnyEvent = KnownEvent | UnknownEvent;
/** The event a handler registered under `code` receives: typed when the code is known, in any case. */
export type EventFor<C extends string> = Uppercase<C> extends EventCode ? EventMap[Uppercase<C>] : AnyEvent;
export type Handler<E = AnyEvent> = (event: E, ctx: HandlerContext) => unknown;
export type ErrorHandler = (error: HandlerError, event: AnyEvent, ctx: HandlerContext) => unknown;

/** All failures of one event's handlers, reported together. */
export class HandlerError extends GatewayError implements RetryHint {
  /** Each handler's failure, in the order the handlers were registered. */
  readonly errors: unknown[];
  /** A lower bound for the next attempt, from the slowest failure that asked for one. */
  readonly retryAfterMs: number;
  constructor(errors: unknown[], code: string) {
    const messages = errors.map((e) => (e instanceof Error ? e.message : String(e)));
    super(
      'B24GW_HANDLER_FAILED',
      `${errors.length} handler${errors.length > 1 ? 's' : ''} of ${code} failed: ${messages.join('; ')}`,
      { cause: errors.length === 1 ? errors[0] : new AggregateError(errors) },
    );
    this.name = 'HandlerError';
    this.errors = errors;
    this.retryAfterMs = Math.max(0, ...errors.map(retryHintMs));
  }
}

/** Handlers by event code. Codes match case-insensitively (`OnImConnectorMessageUpdate` too). */
export class HandlerRegistry {
  private readonly byCode = new Map<string, Handler[]>();
  private readonly any: Handler[] = [];
  private readonly onErrors: ErrorHandler[] = [];

  on<C extends string>(code: C, handler: Handler<EventFor<C>>): void {
    const key = normalizeCode(code);
    const list = this.byCode.get(key) ?? [];
    list.push(handler as Handler);
    this.byCode.set(key, list);
  }

  onAny(handler: Handler): void {
    this.any.push(handler);
  }

  onError(handler: ErrorHandler): void {
    this.onErrors.push(handler);
  }

  /**
   * Runs every handler of the event in registration order; one failing does not stop the
   * others, and the failures are thrown together so the event is retried. Once the attempt's
   * signal is aborted, the handlers not yet started are not started.
   */
  async run(event: AnyEvent, ctx: HandlerContext): Promise<void> {
    const errors: unknown[] = [];
    for (const handler of [...(this.byCode.get(normalizeCode(event.event)) ?? []), ...this.any]) {
      if (ctx.signal.aborted) {
        errors.push(ctx.signal.reason);
        break;
      }
      try {
        await handler(event, ctx);
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 0) return;
    const error = new HandlerError(errors, event.event);
    for (const h of this.onErrors) {
      try {
        await h(error, event, ctx);
      } catch {
        // An error reporter that fails must not change the event's outcome.
      }
    }
    throw error;
  }
}
