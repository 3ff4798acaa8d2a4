// A worker thread for the hostile-input scenario: one Gateway of the built package (dist/),
// fed batches of bodies by the test, answering each with what Gateway.receive returned.
// Plain JavaScript because worker threads cannot load the TypeScript sources.
import { performance } from 'node:perf_hooks';
import { memoryUsage } from 'node:process';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';

const { Gateway } = await import(workerData.gatewayUrl);
const gateway = new Gateway({
  db: workerData.db,
  appTokens: new Map(workerData.appTokens),
  allowDomains: workerData.allowDomains,
  defaultMetrics: false,
});
const protoBefore = Object.getOwnPropertyNames(Object.prototype).join();
// The growth checks compare live heap, not garbage V8 has not yet collected: used_heap_size
// before a collection rose and fell by about 70 MB between batches, more than the bound.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc');
const liveHeap = () => {
  collect();
  return getHeapStatistics().used_heap_size;
};
const heapStart = liveHeap();
let batches = 0;
let heapAfterWarmup = 0;
let heapPeak = 0;

parentPort.on('message', async (msg) => {
  if (msg.type === 'batch') {
    // msg.data: the bodies back to back; msg.lengths; msg.types: (string | null)[]. Up to 32 in flight, so commits are shared.
    const bodies = [];
    let offset = 0;
    for (const length of msg.lengths) {
      bodies.push(new Uint8Array(msg.data, offset, length));
      offset += length;
    }
    const out = new Array(bodies.length);
    let next = 0;
    const lane = async () => {
      while (next < bodies.length) {
        const i = next++;
        const t = performance.now();
        try {
          const r = await gateway.receive(bodies[i], msg.types[i] ?? undefined);
          out[i] = {
            status: r.status,
            body: 'error' in r ? r.error.toJSON() : { ok: true, id: r.id, duplicate: r.duplicate },
            ms: performance.now() - t,
          };
        } catch (e) {
          out[i] = { status: 0, body: { threw: String(e && e.message) }, ms: performance.now() - t };
        }
      }
    };
    await Promise.all(Array.from({ length: 32 }, lane));
    const heap = getHeapStatistics().used_heap_size;
    heapPeak = Math.max(heapPeak, heap);
    if (++batches === 20) heapAfterWarmup = liveHeap();
    parentPort.postMessage({ type: 'answers', id: msg.id, answers: out });
  } else if (msg.type === 'finish') {
    const canary = await gateway.receive(msg.canary, 'application/x-www-form-urlencoded');
    // Every id answered 200 must be in the store.
    let lost = 0;
    for (const id of msg.ids) if (!(await gateway.store.getEvent(id))) lost++;
    const counts = await gateway.store.countEvents();
    const heapEnd = liveHeap();
    await gateway.close();
    parentPort.postMessage({
      type: 'finished',
      canary: canary.status,
      acknowledged: msg.ids.length,
      lost,
      counts,
      heapStart,
      heapAfterWarmup,
      heapPeak,
      heapEnd,
      rss: memoryUsage().rss,
      protoIntact: Object.getOwnPropertyNames(Object.prototype).join() === protoBefore && {}.polluted === undefined,
    });
  }
});
parentPort.postMessage({ type: 'ready' });
