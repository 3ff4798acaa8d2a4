import { parentPort, workerData } from 'node:worker_threads';
import { isGatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import type { FromThread, ThreadData, ToThread } from './worker-thread.js';
import { buildGateway } from './setup.js';

/**
 * The body of the WorkerThread: builds its Gateway (through the setup module, when there is one),
 * says so, and processes once told to start, woken by the thread that receives.
 */
const data = workerData as ThreadData;
const port = parentPort!;
const send = (m: FromThread) => port.postMessage(m);
let gateway: Gateway;
try {
  // Node's process metrics are the receiving thread's to report, once.
  gateway = await buildGateway(
    data.setup,
    { ...data.gateway, logger: createLogger({ level: data.logLevel }), defaultMetrics: false },
    'worker',
  );
} catch (e) {
  send({
    failed: {
      code: isGatewayError(e) ? e.code : 'B24GW_BAD_CONFIG',
      message: e instanceof Error ? e.message : String(e),
    },
  });
  process.exit(1);
}
port.on('message', (m: ToThread) => {
  if (m === 'wake') return gateway.worker.wake();
  if (m === 'wake-customers') return gateway.customerSender?.wake();
  if (m === 'start') return void gateway.start();
  if (m === 'stop') return void gateway.close().then(() => send('stopped'));
  if (m.ask === 'ping')
    return void gateway.store.ping().then(
      (value) => send({ answer: m.id, value }),
      () => send({ answer: m.id, value: false }),
    );
  void gateway.metrics.registry.getMetricsAsJSON().then(
    (value) => send({ answer: m.id, value }),
    () => send({ answer: m.id, value: [] }),
  );
});
send('ready');
