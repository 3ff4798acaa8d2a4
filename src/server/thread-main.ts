import { parentPort, workerData } from 'node:worker_threads';
import { GatewayError } from '../errors.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import type { ThreadOptions, ToThread } from './gateway-thread.js';
import { toWire, type IntakeBatch, type IntakeReplies, type WireResult } from './intake-thread.js';

/**
 * The body of a GatewayThread. As `worker` it only processes, woken by the thread that receives;
 * as `intake` it takes the bodies that thread read and sends back the answers.
 */
const options = workerData as ThreadOptions & { role: 'intake' | 'worker' };
const logger = createLogger({ level: options.logLevel });
// Node's process metrics are the receiving thread's to report, once.
const gateway = new Gateway({ ...options.gateway, logger, defaultMetrics: false });
if (options.role === 'worker') gateway.start();
const port = parentPort!;

// receive() answers every failure itself; this only keeps a batch from waiting forever if that ever broke.
const unexpected = (): WireResult => ({ status: 500, error: new GatewayError('B24GW_STORE_FAILED').toJSON().error });

port.on('message', (m: ToThread | 'wake' | IntakeBatch) => {
  if (m === 'wake') return gateway.worker.wake();
  if (m === 'stop') {
    void gateway.close().then(() => port.postMessage('stopped'));
    return;
  }
  if ('items' in m) {
    void Promise.all(m.items.map(([body, contentType]) => gateway.receive(body, contentType).then(toWire, unexpected))).then((results) =>
      port.postMessage({ seq: m.seq, results } satisfies IntakeReplies),
    );
    return;
  }
  void gateway.metrics.registry.getMetricsAsJSON().then((metrics) => port.postMessage({ metrics, id: m.metrics }));
});
