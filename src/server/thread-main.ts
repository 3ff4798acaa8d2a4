import { parentPort, workerData } from 'node:worker_threads';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import type { FromThread, ThreadData, ToThread } from './gateway-thread.js';
import { toWire, type ChannelRequest, type IntakeBatch, type IntakeReplies, type WireResult } from './intake-thread.js';
import { buildGateway } from './setup.js';

/**
 * The body of a GatewayThread: builds its Gateway (through the setup module, when there is one)
 * and says so. As `worker` it processes once told to start, woken by the thread that receives;
 * as `intake` it takes the bodies that thread read and sends back the answers.
 */
const data = workerData as ThreadData;
const port = parentPort!;
const send = (m: FromThread | IntakeReplies) => port.postMessage(m);
let gateway: Gateway;
try {
  // Node's process metrics are the receiving thread's to report, once.
  gateway = await buildGateway(
    data.setup,
    { ...data.gateway, logger: createLogger({ level: data.logLevel }), defaultMetrics: false },
    data.role,
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
// receive() answers every failure itself; this only keeps a batch from waiting forever if that ever broke.
const unexpected = (): WireResult => ({ status: 500, error: new GatewayError('B24GW_STORE_FAILED').toJSON().error });
port.on('message', (m: ToThread | 'wake' | 'wake-customers' | IntakeBatch | ChannelRequest) => {
  if (m === 'wake') return gateway.worker.wake();
  if (m === 'wake-customers') return gateway.customerSender?.wake();
  if (m === 'start') return void gateway.start();
  if (m === 'stop') return void gateway.close().then(() => send('stopped'));
  if ('channel' in m) {
    const [body, headers] = m.channel;
    void gateway.customers
      .receive(body, headers)
      .then(toWire, unexpected)
      .then((result) => send({ seq: m.seq, results: [result] }));
    return;
  }
  if ('items' in m) {
    void Promise.all(
      m.items.map(([body, contentType]) => gateway.receive(body, contentType).then(toWire, unexpected)),
    ).then((results) => send({ seq: m.seq, results }));
    return;
  }
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
