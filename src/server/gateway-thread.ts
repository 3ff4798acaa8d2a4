import { Worker } from 'node:worker_threads';
import type { GatewayOptions } from '../gateway.js';
import type { Logger } from '../log.js';
import type { MetricsJson } from '../metrics.js';

/** What a gateway thread is started with: the gateway's options that cross a thread, and its log level. */
export interface ThreadOptions {
  gateway: Omit<GatewayOptions, 'logger' | 'fetch' | 'onStored' | 'onRejected' | 'worker'> & {
    db: string;
    worker?: Pick<NonNullable<GatewayOptions['worker']>, 'concurrency' | 'leaseMs' | 'handlerTimeoutMs' | 'schedule'>;
  };
  logLevel: string;
}

/** Messages every gateway thread answers, besides its own. */
export type ToThread = 'stop' | { metrics: number };
export type FromThread = { metrics: MetricsJson; id: number } | 'stopped';

/**
 * A Gateway on a thread of its own (see thread-main.ts), for `serve`: its metrics are served
 * with the receiving thread's, and stopping it lets what it holds finish. If it dies, `onExit`
 * decides (serve exits, so that a supervisor restarts the whole gateway).
 */
export class GatewayThread<In = never, Out = never> {
  protected readonly thread: Worker;
  private asks = 0;
  private readonly answers = new Map<number, (m: MetricsJson) => void>();
  private stopped: (() => void) | undefined;

  constructor(role: 'intake' | 'worker', options: ThreadOptions, logger: Logger, onExit: (code: number) => void, onMessage?: (m: Out) => void) {
    this.thread = new Worker(new URL('./thread-main.js', import.meta.url), { workerData: { ...options, role } });
    this.thread.on('message', (m: FromThread | Out) => {
      if (m === 'stopped') return this.stopped?.();
      if (typeof m === 'object' && m !== null && 'metrics' in m) {
        this.answers.get(m.id)?.(m.metrics);
        this.answers.delete(m.id);
        return;
      }
      onMessage?.(m as Out);
    });
    this.thread.on('error', (e) => logger.fatal({ err: e }, `the ${role} thread failed`));
    this.thread.on('exit', (code) => {
      if (!this.stopped) onExit(code || 1);
    });
  }

  protected post(m: In | ToThread): void {
    this.thread.postMessage(m);
  }

  /** The thread's metrics, to be served beside the receiving thread's in one /metrics. */
  metrics(): Promise<MetricsJson> {
    const id = ++this.asks;
    return new Promise((resolve) => {
      this.answers.set(id, resolve);
      this.post({ metrics: id });
    });
  }

  /** Lets what the thread holds finish, then ends it. */
  async stop(): Promise<void> {
    const done = new Promise<void>((r) => (this.stopped = r));
    this.post('stop');
    await done;
    await this.thread.terminate();
  }
}
