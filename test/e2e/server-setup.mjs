// A setup module, as a library user writes one for startServer: every gateway thread imports it
// and builds its Gateway with it. Everything it sees goes to the test's sink (B24GW_TEST_SINK).
// Message id "exit-worker" ends the worker thread from its handler: how a thread that stops by
// itself is met.
import process from 'node:process';
import { isMainThread, resourceLimits, threadId } from 'node:worker_threads';
import { Gateway } from '../../dist/index.js';

const tell = (what) =>
  globalThis.fetch(process.env.B24GW_TEST_SINK, { method: 'POST', body: JSON.stringify({ ...what, threadId }) });

/** @type {import('../../src/index.js').GatewaySetup} */
export default async function setup(options, { role }) {
  await tell({ kind: 'setup', role, young: resourceLimits.maxYoungGenerationSizeMb });
  // A channel that is a function cannot cross to a thread: the setup module gives it, to the worker.
  const channel = {
    format: 'text',
    deliver: async (payload) => void (await tell({ kind: 'channel', type: payload.type })),
  };
  const gateway = new Gateway({ ...options, ...(role === 'worker' ? { channel } : {}) });
  gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (event, ctx) => {
    const id = event.data.MESSAGES?.[0]?.message.id[0];
    if (id === 'exit-worker' && !isMainThread) process.exit(3);
    await tell({ kind: 'handler', role, eventId: ctx.eventId, messageId: id, aborted: ctx.signal.aborted });
  });
  return gateway;
}
