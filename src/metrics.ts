import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store/types.js';

/** One registry's metrics, as getMetricsAsJSON gives them: what a worker thread sends to be served with the others. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** The gateway's Prometheus metrics, in a registry of its own so several gateways can share a process. */
export class Metrics {
  readonly registry = new Registry();
  readonly received = new Counter({ name: 'b24gw_events_received_total', help: 'Events accepted and stored, by event code', labelNames: ['event', 'duplicate'], registers: [this.registry] });
  readonly rejected = new Counter({ name: 'b24gw_events_rejected_total', help: 'Deliveries refused, by error code', labelNames: ['reason'], registers: [this.registry] });
  readonly processed = new Counter({ name: 'b24gw_events_processed_total', help: 'Handler runs, by event code and outcome (done, retry, dead)', labelNames: ['event', 'outcome'], registers: [this.registry] });
  readonly processing = new Histogram({ name: 'b24gw_processing_seconds', help: 'Time to run one event’s handlers', labelNames: ['event'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [this.registry] });
  readonly endToEnd = new Histogram({ name: 'b24gw_end_to_end_seconds', help: 'From receipt to done', labelNames: ['event'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300, 3600, 36000], registers: [this.registry] });
  readonly restCalls = new Counter({ name: 'b24gw_rest_calls_total', help: 'Bitrix24 REST calls, by method and result', labelNames: ['method', 'result'], registers: [this.registry] });

  constructor(store: Store, options: { defaultMetrics?: boolean } = {}) {
    new Gauge({
      name: 'b24gw_queue_depth',
      help: 'Stored events by status',
      labelNames: ['status'],
      registers: [this.registry],
      // Each thread that reports it counts the same table: merged, it is one count, not a sum.
      aggregator: 'max',
      async collect() {
        const counts = await store.countEvents();
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'b24gw_' });
  }
}
