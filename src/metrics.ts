import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { eventLabel, methodLabels, reasonLabel, restResultLabel } from './metric-labels.js';
import type { EventStatus, Store } from './store/types.js';

/** One registry's metrics, as getMetricsAsJSON gives them: what a worker thread sends to be served with the others. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * The statuses b24gw_queue_depth reports: what an operator alerts on. `done` grows without end
 * (b24gw_events_processed_total counts it), and counting it would walk every row ever kept.
 */
export const QUEUE_DEPTH_STATUSES = [
  'pending',
  'processing',
  'retry',
  'dead',
  'invalid',
] as const satisfies readonly EventStatus[];

/**
 * How long one count of the queue is reused. Scrapes come every 15-60 s, so each still sees a
 * fresh count, while several scrapers (a Prometheus pair, someone's curl loop) share one; and
 * at most one count runs at a time however many scrapes wait for it.
 */
export const QUEUE_DEPTH_TTL_MS = 5_000;

export interface MetricsOptions {
  /** Node's process metrics. Default true. */
  defaultMetrics?: boolean;
  /** Report b24gw_queue_depth (counts the store). Default true. */
  queueDepth?: boolean;
  /** For tests: the clock the count's reuse window runs on. */
  now?: () => number;
}

/** `fn`'s answer, reused for `ttlMs` after it came; while one call is in flight, every caller waits for it. A failure is not kept. */
export function reusedFor<T>(ttlMs: number, fn: () => Promise<T>, now: () => number = Date.now): () => Promise<T> {
  let cached: { at: number; value: T } | undefined;
  let running: Promise<T> | undefined;
  return () => {
    if (running) return running;
    if (cached && now() - cached.at < ttlMs) return Promise.resolve(cached.value);
    running = fn()
      .then((value) => {
        cached = { at: now(), value };
        return value;
      })
      .finally(() => (running = undefined));
    return running;
  };
}

const PREFIX = 'b24gw_';

/** Seconds: a handler run (ms to half a minute), and receipt to done (retries included: up to 10 hours). */
const RUN_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];
const END_TO_END_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300, 3600, 36000];

/** Node's process metrics alone: what a thread that holds only the sockets reports, beside its gateway threads' metrics. */
export function processMetrics(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  return registry;
}

/** The gateway's Prometheus metrics, in a registry of its own so several gateways can share a process. */
export class Metrics {
  readonly registry = new Registry();
  readonly received = this.counter('b24gw_events_received_total', 'Events accepted and stored, by event code', [
    'event',
    'duplicate',
  ]);
  readonly pulled = this.counter(
    'b24gw_events_pulled_total',
    'Events pulled from Bitrix24 (serve --pull), by delivery (fetch, offline) and whether they were stored before',
    ['delivery', 'duplicate'],
  );
  readonly rejected = this.counter('b24gw_events_rejected_total', 'Deliveries refused, by error code', ['reason']);
  readonly processed = this.counter(
    'b24gw_events_processed_total',
    'Handler runs, by event code and outcome (done, retry, dead)',
    ['event', 'outcome'],
  );
  readonly processing = this.byEvent('b24gw_processing_seconds', 'Time to run one event’s handlers', RUN_BUCKETS);
  readonly endToEnd = this.byEvent('b24gw_end_to_end_seconds', 'From receipt to done', END_TO_END_BUCKETS);
  readonly restCalls = this.counter(
    'b24gw_rest_calls_total',
    'Bitrix24 REST calls, by method and result (ok, a known error code, or other)',
    ['method', 'result'],
  );
  readonly takeovers = this.counter(
    'b24gw_lease_takeovers_total',
    'Events claimed after their lease ran out unfinished: another gateway process died (or stalled) while running them',
    ['queue'],
  );
  private readonly methodLabel = methodLabels();

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A histogram of seconds, by event code. */
  private byEvent(name: string, help: string, buckets: number[]): Histogram<'event'> {
    return new Histogram({ name, help, labelNames: ['event'], buckets, registers: [this.registry] });
  }

  constructor(store: Store, options: MetricsOptions = {}) {
    const count = reusedFor(QUEUE_DEPTH_TTL_MS, () => store.countEvents(QUEUE_DEPTH_STATUSES), options.now);
    if (options.queueDepth !== false) {
      new Gauge({
        name: 'b24gw_queue_depth',
        help: 'Stored events by status (pending, processing, retry, dead, invalid), counted at most every 5 s',
        labelNames: ['status'],
        registers: [this.registry],
        aggregator: 'max',
        async collect() {
          const counts = await count();
          for (const status of QUEUE_DEPTH_STATUSES) this.set({ status }, counts[status]);
        },
      });
      const oldest = store.oldestPendingAt?.bind(store);
      if (oldest) {
        const read = reusedFor(QUEUE_DEPTH_TTL_MS, oldest, options.now);
        const now = options.now ?? Date.now;
        new Gauge({
          name: 'b24gw_queue_age_seconds',
          help: 'How long the oldest pending event (stored, not yet run) has waited; 0 when none waits. Read at most every 5 s',
          registers: [this.registry],
          aggregator: 'max',
          async collect() {
            const at = await read();
            this.set(at === null ? 0 : Math.max(0, (now() - at) / 1000));
          },
        });
      }
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** A REST call's outcome, under labels from known values only. */
  restCall(method: string, result: string): void {
    this.restCalls.inc({ method: this.methodLabel(method), result: restResultLabel(result) });
  }

  /** A refused delivery, by its code. */
  reject(code: string): void {
    this.rejected.inc({ reason: reasonLabel(code) });
  }

  /** An event stored, by its code. */
  receive(code: string, duplicate: boolean): void {
    this.received.inc({ event: eventLabel(code), duplicate: String(duplicate) });
  }
}
