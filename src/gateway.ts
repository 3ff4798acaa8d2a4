import { Intake, type IntakeOptions } from './intake/intake.js';
import { HandlerRegistry, type ErrorHandler, type EventFor, type Handler } from './worker/handlers.js';
import { Worker, type WorkerOptions } from './worker/worker.js';
import { createNodeHandler, type NodeHandlerOptions } from './intake/node.js';
import { handleFetch } from './intake/fetch.js';
import { silentLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';

export interface GatewayOptions extends Omit<IntakeOptions, 'store' | 'logger'> {
  /** A SQLite file path, or a ready Store. Default `./b24-im-gateway.db`. */
  db?: string | Store;
  logger?: Logger;
  /** Node's process metrics beside the gateway's in /metrics. Default true. */
  defaultMetrics?: boolean;
  /** How the worker runs handlers: concurrency, lease, retry schedule. */
  worker?: Omit<WorkerOptions, 'store' | 'handlers' | 'logger'>;
}

export const defaultDbFile = 'b24-im-gateway.db';

/**
 * The library's entry point: one store, the intake that fills it, the adapters that mount
 * the intake, and the worker that runs handlers on what was stored.
 */
export class Gateway {
  readonly store: Store;
  readonly intake: Intake;
  readonly logger: Logger;
  readonly handlers = new HandlerRegistry();
  readonly worker: Worker;
  readonly metrics: Metrics;

  constructor(options: GatewayOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.store = typeof options.db === 'object' ? options.db : openStore(options.db ?? defaultDbFile);
    const metrics = (this.metrics = new Metrics(this.store, { defaultMetrics: options.defaultMetrics }));
    this.worker = new Worker({
      ...options.worker,
      store: this.store,
      handlers: this.handlers,
      logger: this.logger,
      onFinished: (event, outcome, ms) => {
        options.worker?.onFinished?.(event, outcome, ms);
        metrics.processed.inc({ event: event.code, outcome });
        metrics.processing.observe({ event: event.code }, ms / 1000);
        if (outcome === 'done') metrics.endToEnd.observe({ event: event.code }, (Date.now() - event.receivedAt) / 1000);
      },
    });
    this.intake = new Intake({
      ...options,
      store: this.store,
      logger: this.logger,
      onStored: (id, code, duplicate) => {
        options.onStored?.(id, code, duplicate);
        metrics.received.inc({ event: code, duplicate: String(duplicate) });
        if (!duplicate) this.worker.wake();
      },
      onRejected: (code) => {
        options.onRejected?.(code);
        metrics.rejected.inc({ reason: code });
      },
    });
  }

  /** Runs `handler` for every stored event with this code (any case: `OnImConnectorMessageUpdate` too). */
  on<C extends string>(code: C, handler: Handler<EventFor<C>>): this {
    this.handlers.on(code, handler);
    return this;
  }

  onAny(handler: Handler): this {
    this.handlers.onAny(handler);
    return this;
  }

  /** Sees every failed run (all of one event's handler errors together) before it is retried. */
  onError(handler: ErrorHandler): this {
    this.handlers.onError(handler);
    return this;
  }

  /** Starts processing stored events. Intake works without it. */
  start(): this {
    this.worker.start();
    return this;
  }

  /** For `http.createServer`, Express or Connect. */
  nodeHandler(options?: NodeHandlerOptions) {
    return createNodeHandler(this.intake, options);
  }

  /** For Fetch API runtimes: Hono, Next.js route handlers. */
  fetch = (request: Request): Promise<Response> => handleFetch(this.intake, request);

  /** Raw body plus content type in, answer out: for any other framework. */
  receive(body: Uint8Array | string, contentType?: string) {
    return this.intake.receive(body, contentType);
  }

  /** Finishes the events in flight, then closes the store. */
  async close(): Promise<void> {
    await this.worker.stop();
    await this.store.close();
  }
}
