import { Worker, type ResourceLimits } from 'node:worker_threads';
import { GatewayError, errorCodes, type ErrorCode } from '../errors.js';
import type { GatewayOptions } from '../gateway.js';
import type { Logger } from '../log.js';
import type { MetricsJson } from '../metrics.js';

/** What the worker thread is started with: the options that cross a thread, and how to build its Gateway. */
export interface ThreadData {
  gateway: Omit<GatewayOptions, 'logger'>;
  /** The setup module's URL, or none for a plain Gateway. */
  setup: string | undefined;
  logLevel: string;
}

/** What the worker thread is told: start, stop, look for new work, or answer for its metrics or its store. */
export type ToThread = 'start' | 'stop' | 'wake' | 'wake-customers' | { ask: 'metrics' | 'ping'; id: number };
export type FromThread =
  | 'ready'
  | 'stopped'
  | { failed: { code: string; message: string } }
  | { answer: number; value: MetricsJson | boolean };

const codeOf = (code: string): ErrorCode => (code in errorCodes ? (code as ErrorCode) : 'B24GW_BAD_CONFIG');

/**
 * The gateway's worker on a thread of its own (see thread-main.ts): handlers, state and calls to
 * Bitrix24 never take the event loop that answers Bitrix24, and the worker's database waits block
 * only its own thread. It answers for its metrics and its store, and stopping it lets what it holds
 * finish. If it stops by itself once ready, `onExit` decides what the server does.
 */
export class WorkerThread {
  private readonly thread: Worker;
  /** Resolves once the thread's Gateway is built; rejects with why it could not be. */
  readonly ready: Promise<void>;
  private asks = 0;
  private readonly answers = new Map<number, (value: MetricsJson | boolean | undefined) => void>();
  private stopping = false;
  private exited = false;
  private wakeQueued = false;
  private customersQueued = false;
  private onStopped: (() => void) | undefined;

  constructor(data: ThreadData, logger: Logger, onExit: (code: number) => void, resourceLimits?: ResourceLimits) {
    try {
      this.thread = new Worker(new URL('./thread-main.js', import.meta.url), {
        workerData: data,
        ...(resourceLimits ? { resourceLimits } : {}),
      });
    } catch (e) {
      throw new GatewayError(
        'B24GW_BAD_CONFIG',
        `The gateway options must be plain data to cross to the worker thread (functions go in the setup module): ${(e as Error).message}`,
        { cause: e },
      );
    }
    let isReady = false;
    let settle!: (failure?: GatewayError) => void;
    this.ready = new Promise<void>(
      (resolve, reject) => (settle = (failure) => (failure ? reject(failure) : resolve())),
    );
    // A rejection nobody waits for (the server already failed) is no crash.
    this.ready.catch(() => undefined);
    this.thread.on('message', (m: FromThread) => {
      if (m === 'ready') {
        isReady = true;
        return settle();
      }
      if (m === 'stopped') return this.onStopped?.();
      if (typeof m === 'object' && m !== null && 'failed' in m)
        return settle(new GatewayError(codeOf(m.failed.code), m.failed.message));
      if (typeof m === 'object' && m !== null && 'answer' in m) {
        this.answers.get(m.answer)?.(m.value);
        this.answers.delete(m.answer);
      }
    });
    this.thread.on('error', (e) => {
      if (isReady) logger.fatal({ err: e }, `the worker thread failed`);
      else
        settle(new GatewayError('B24GW_BAD_CONFIG', `The worker thread could not start: ${e.message}`, { cause: e }));
    });
    this.thread.on('exit', (code) => {
      this.exited = true;
      for (const answer of this.answers.values()) answer(undefined);
      this.answers.clear();
      this.onStopped?.();
      settle(
        new GatewayError('B24GW_BAD_CONFIG', `The worker thread stopped (code ${code}) before its gateway was ready`),
      );
      if (isReady && !this.stopping) onExit(code || 1);
    });
  }

  private post(m: ToThread): void {
    if (!this.exited) this.thread.postMessage(m);
  }

  private ask<T extends MetricsJson | boolean>(ask: 'metrics' | 'ping', fallback: T): Promise<T> {
    if (this.exited) return Promise.resolve(fallback);
    const id = ++this.asks;
    return new Promise((resolve) => {
      this.answers.set(id, (value) => resolve(value === undefined ? fallback : (value as T)));
      this.post({ ask, id });
    });
  }

  /** The thread's metrics, to be served with the others in one /metrics; none once it is gone. */
  metrics(): Promise<MetricsJson> {
    return this.ask<MetricsJson>('metrics', []);
  }

  /** Whether the thread's store takes writes; false once it is gone. */
  ping(): Promise<boolean> {
    return this.ask('ping', false);
  }

  /** Starts the gateway's worker (and retention), once the server listens. */
  start(): void {
    this.post('start');
  }

  /** Lets what the thread holds finish, then ends it. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    const done = new Promise<void>((r) => (this.onStopped = r));
    this.post('stop');
    await done;
    await this.thread.terminate();
  }

  /** New events are stored: one message per turn of the event loop, however many arrived. */
  wake(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.post('wake');
    });
  }

  /** The channel sent customer actions: the customer sender looks for them, once per turn of the event loop. */
  wakeCustomers(): void {
    if (this.customersQueued) return;
    this.customersQueued = true;
    setImmediate(() => {
      this.customersQueued = false;
      this.post('wake-customers');
    });
  }
}
