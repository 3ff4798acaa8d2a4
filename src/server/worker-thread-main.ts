import { parentPort, workerData } from 'node:worker_threads';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import type { WorkerThreadOptions } from './worker-thread.js';

/** The body of a WorkerThread: a gateway that only processes, woken by the thread that receives. */
const options = workerData as WorkerThreadOptions;
const logger = createLogger({ level: options.logLevel });
// Node's process metrics are the receiving thread's to report, once.
const gateway = new Gateway({ ...options.gateway, logger, defaultMetrics: false }).start();
const port = parentPort!;

port.on('message', (m: 'wake' | 'stop' | { metrics: number }) => {
  if (m === 'wake') return gateway.worker.wake();
  if (m === 'stop') {
    void gateway.close().then(() => port.postMessage('stopped'));
    return;
  }
  void gateway.metrics.registry.getMetricsAsJSON().then((metrics) => port.postMessage({ metrics, id: m.metrics }));
});
