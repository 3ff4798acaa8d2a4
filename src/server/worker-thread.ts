import { Worker } from 'node:worker_threads';
import type { GatewayOptions } from '../gateway.js';
import type { Logger } from '../log.js';
import type { MetricsJson } from '../metrics.js';

/** What a worker thread is started with: the gateway's options that cross a thread, and its log level. */
export interface WorkerThreadOptions {
  gateway: Omit<GatewayOptions, 'logger' | 'fetch' | 'onStored' | 'onRejected' | 'worker'> & {
    db: string;
    worker?: Pick<NonNullable<GatewayOptions['worker']>, 'concurrency' | 'leaseMs' | 'schedule'>;
  };
  logLevel: string;
}

type FromThread = { metrics: MetricsJson; id: number } | 'stopped';

/**
 * The gateway's worker on a thread of its own, for `serve` with both roles: handlers, state and
 * calls to Bitrix24 never take the event loop that answers Bitrix24, and the worker's database
 * waits block only its own thread.
 */
export class WorkerThread {
  private readonly thread: Worker;
  private wakeQueued = false;
  private asks = 0;
  private readonly answers = new Map<number, (m: MetricsJson) => void>();
  private stopped: (() => void) | undefined;

  constructor(options: WorkerThreadOptions, logger: Logger, onExit: (code: number) => void) {
    this.thread = new Worker(new URL('./worker-thread-main.js', import.meta.url), { workerData: options });
    this.thread.on('message', (m: FromThread) => {
      if (m === 'stopped') return this.stopped?.();
      this.answers.get(m.id)?.(m.metrics);
      this.answers.delete(m.id);
    });
    this.thread.on('error', (e) => logger.fatal({ err: e }, 'the worker thread failed'));
    this.thread.on('exit', (code) => {
      if (!this.stopped) onExit(code || 1);
    });
  }

  /** New events are stored: one message per turn of the event loop, however many arrived. */
  wake(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.thread.postMessage('wake');
    });
  }

  /** The thread's metrics, to be served beside this thread's in one /metrics. */
  metrics(): Promise<MetricsJson> {
    const id = ++this.asks;
    return new Promise((resolve) => {
      this.answers.set(id, resolve);
      this.thread.postMessage({ metrics: id });
    });
  }

  /** Lets the events in flight finish, then ends the thread. */
  async stop(): Promise<void> {
    const done = new Promise<void>((r) => (this.stopped = r));
    this.thread.postMessage('stop');
    await done;
    await this.thread.terminate();
  }
}
