import { Worker } from 'node:worker_threads';
import { afterEach, expect, it } from 'vitest';
import { errorCodes } from '../../src/errors.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { formFixture } from '../fixtures.js';
import { tempDirEach } from '../helpers.js';
import { startGatewayProcess, type GatewayProcess } from '../process.js';
import { PipelinedConnection, requestBytes, type Answer } from './http-client.js';
import { figures, mb, PORTAL_A, PORTAL_B, post, prng, rssBytes, seedFromEnv, sleep, waitUntil } from './lib.js';
import { FORM, makeHostile, noEqualsBody, type Hostile } from './mutate.js';

/**
 * Scenario 4b: a million hostile bodies. The gateway must not crash, never answer 5xx, answer
 * every request within a bound, answer 200 only for valid verified events and otherwise a 4xx
 * JSON error with a documented code, and keep its memory bounded.
 *
 * Over HTTP (8 keep-alive connections × 16 pipelined requests, raw sockets) one gateway process
 * answers about 3,000–3,500 of these bodies a second on the 2-core machine: decoding plus schema
 * validation cost ~150 µs a body, so a million would take 5 minutes or more. So the million runs
 * through the in-process core (`Gateway.receive` of the built package, the same code path minus
 * the socket) in two worker threads, and 100,000 go over HTTP to one gateway process.
 * RELIABILITY_HTTP_REQUESTS / RELIABILITY_CORE_REQUESTS / RELIABILITY_SEED change the run.
 */

const HTTP_REQUESTS = Number(process.env.RELIABILITY_HTTP_REQUESTS ?? 100_000);
const CORE_REQUESTS = Number(process.env.RELIABILITY_CORE_REQUESTS ?? 1_000_000);
const CONNECTIONS = 8;
const PIPELINE_DEPTH = 16;
/** Every answer must come within this, queueing behind pipelined requests included. */
const ANSWER_BOUND_MS = 5_000;
/** RSS at the end may exceed RSS after warm-up by at most this (the core run). */
const RSS_GROWTH_BOUND = 128 * 1024 * 1024;
/**
 * Over the second half of the HTTP run, RSS may grow by at most this. The four isolates' heaps are
 * still being sized early in the run (RSS rose 246 → 371 MB over 100,000 requests, 46 MB of it in
 * the second half), so a bound from the warm-up measured V8's sizing more than a leak. This one is
 * coarse (2 KB a request); the core run below measures the live heap after full collections.
 */
const RSS_SECOND_HALF_BOUND = 96 * 1024 * 1024;
/** A worker thread's V8 heap may end at most this much above its size after warm-up. */
const HEAP_GROWTH_BOUND = 64 * 1024 * 1024;

const tokens = [
  '--app-token',
  `${PORTAL_A.member}=${PORTAL_A.token}`,
  '--app-token',
  `${PORTAL_B.member}=${PORTAL_B.token}`,
];
// Installs in the fixtures come from some-domain.bitrix24.com: an allow-list without it keeps every check on loopback.
const allow = ['--allow-domain', '127.0.0.1:9'];

class Tally {
  readonly byAnswer = new Map<string, number>();
  readonly byKind = new Map<string, number>();
  readonly failures: string[] = [];
  /** Ids of the events answered 200. */
  readonly ids = new Set<number>();
  failed = 0;
  answered = 0;
  ok = 0;
  maxMs = 0;
  slow = 0;
  private readonly hist = new Uint32Array(200); // 1 ms buckets up to 200 ms, the last one open

  check(h: Hostile, status: number, body: unknown, ms: number): void {
    this.answered++;
    this.byKind.set(h.kind, (this.byKind.get(h.kind) ?? 0) + 1);
    this.maxMs = Math.max(this.maxMs, ms);
    this.hist[Math.min(199, Math.floor(ms))]!++;
    if (ms > ANSWER_BOUND_MS) this.slow++;
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    let problem: string | undefined;
    if (status === 200) {
      const b = body as { ok?: unknown; id?: unknown; duplicate?: unknown };
      if (b?.ok !== true || typeof b.id !== 'number' || typeof b.duplicate !== 'boolean')
        problem = 'a 200 without {ok, id, duplicate}';
      else {
        this.ok++;
        this.ids.add(b.id);
      }
    } else if (status < 400 || status >= 500) problem = `status ${status}`;
    else if (typeof error?.code !== 'string' || !(error.code in errorCodes))
      problem = `a ${status} without a documented error code`;
    else if (errorCodes[error.code as keyof typeof errorCodes].status !== status)
      problem = `${error.code} answered with ${status}`;
    else if (typeof error.message !== 'string' || error.message === '') problem = `${error.code} without a message`;
    const key = `${status} ${status === 200 ? 'ok' : typeof error?.code === 'string' ? error.code : '?'}`;
    this.byAnswer.set(key, (this.byAnswer.get(key) ?? 0) + 1);
    if (problem) this.fail(h, problem, JSON.stringify(body)?.slice(0, 200));
  }

  fail(h: Hostile, problem: string, detail = ''): void {
    this.failed++;
    if (this.failures.length < 10) {
      this.failures.push(
        `${problem} for ${h.kind} (${h.contentType ?? 'no content-type'}, ${h.body.length} bytes, base64 head ${h.body.subarray(0, 120).toString('base64')}) ${detail}`,
      );
    }
  }

  percentile(p: number): string {
    const total = this.hist.reduce((s, n) => s + n, 0);
    let seen = 0;
    for (let i = 0; i < this.hist.length; i++) {
      seen += this.hist[i]!;
      if (seen >= total * p) return i === 199 ? '≥199' : String(i + 1);
    }
    return '?';
  }

  summary(): string {
    return [...this.byAnswer.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k}:${n}`)
      .join(' ');
  }
}

const parse = (a: Answer): unknown => {
  try {
    return JSON.parse(a.body.toString('utf8'));
  } catch {
    return undefined;
  }
};

const tmp = tempDirEach();
let gw: GatewayProcess | undefined;
afterEach(async () => {
  await gw?.kill('SIGKILL');
  gw = undefined;
});

it(`hostile input over HTTP: ${HTTP_REQUESTS} mutated and random bodies to one gateway process`, async () => {
  const seed = seedFromEnv();
  const rng = prng(seed);
  const db = `${tmp.dir}/hostile.db`;
  gw = await startGatewayProcess(['--db', db, ...tokens, ...allow, '--log-level', 'error'], { admin: true });
  const port = Number(new URL(gw.url).port);
  const pid = gw.child.pid!;
  const tally = new Tally();

  // A body that never completes must be answered (408) when the gateway's body timeout ends, not hang.
  const stalled = new PipelinedConnection(port);
  await stalled.ready;
  const stalledAnswer = stalled.send(
    Buffer.from(
      `POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${FORM}\r\nContent-Length: 100\r\n\r\nevent=ONAPPTEST`,
    ),
  );

  const conns = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const c = new PipelinedConnection(port);
      await c.ready;
      return c;
    }),
  );
  let issued = 0;
  let noAnswer = 0;
  let reconnects = 0;
  const pump = async (slot: number, limit: number) => {
    while (issued < limit) {
      issued++;
      const h = makeHostile(rng);
      let c = conns[slot % CONNECTIONS]!;
      if (c.closed) {
        reconnects++;
        c = conns[slot % CONNECTIONS] = new PipelinedConnection(port);
        await c.ready;
      }
      const a = await c.send(requestBytes('POST', '/events', h.body, h.contentType));
      if (a instanceof Error) {
        noAnswer++;
        tally.fail(h, `no answer (${a.message})`);
      } else tally.check(h, a.status, parse(a), a.ms);
    }
  };
  const run = (limit: number) =>
    Promise.all(Array.from({ length: CONNECTIONS * PIPELINE_DEPTH }, (_, slot) => pump(slot, limit)));

  // Warm-up, then memory is measured from there.
  const warm = Math.min(20_000, Math.floor(HTTP_REQUESTS / 10));
  await run(warm);
  const rssStart = rssBytes(pid);
  let rssPeak = rssStart;
  let rssHalf: number | undefined;
  const rssTrace: string[] = [];
  const sampler = setInterval(() => {
    const rss = rssBytes(pid);
    rssPeak = Math.max(rssPeak, rss);
    if (rssHalf === undefined && issued >= HTTP_REQUESTS / 2) rssHalf = rss;
    rssTrace.push(`${Math.round(issued / 1000)}k:${Math.round(rss / 1024 / 1024)}`);
  }, 2000);
  const started = performance.now();
  try {
    await run(HTTP_REQUESTS);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  const rate = Math.round((HTTP_REQUESTS - warm) / seconds);

  // Requests outside the pipelined stream: each on its own connection.
  const special: { what: string; expect: number; status: number; ms: number }[] = [];
  const single = async (what: string, expectStatus: number, raw: Buffer) => {
    const c = new PipelinedConnection(port);
    await c.ready;
    const a = await c.send(raw);
    c.close();
    const h: Hostile = { kind: `special: ${what}`, body: raw.subarray(0, 200), contentType: undefined };
    if (a instanceof Error) {
      tally.fail(h, `no answer (${a.message})`);
      special.push({ what, expect: expectStatus, status: 0, ms: NaN });
    } else {
      tally.check(h, a.status, parse(a), a.ms);
      special.push({ what, expect: expectStatus, status: a.status, ms: Math.round(a.ms) });
    }
  };
  const big = Buffer.alloc(1024 * 1024 + 1, 0x61);
  await single('oversized, declared length', 413, requestBytes('POST', '/events', big, FORM));
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const chunked = Buffer.concat([
    Buffer.from(
      `POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${FORM}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    ),
    ...Array.from({ length: 20 }, () =>
      Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]),
    ),
    Buffer.from('0\r\n\r\n'),
  ]);
  await single('oversized, chunked', 413, chunked);
  // The largest body under the limit made of valueless pairs, from a known sender (an unknown one is refused
  // before its body is decoded): the worst case for the decoder's pair scan.
  const sender = Buffer.from(`auth%5Bmember_id%5D=${PORTAL_A.member}&auth%5Bapplication_token%5D=${PORTAL_A.token}&`);
  const worst = Buffer.concat([sender, noEqualsBody(Math.floor((1024 * 1024 - 2 - sender.length) / 2))]);
  for (let i = 0; i < 3; i++)
    await single('1 MiB of "a&a&…" (no "=") from a known sender', 400, requestBytes('POST', '/events', worst, FORM));
  await single(
    '1 MiB of "a&a&…" from an unknown sender',
    401,
    requestBytes('POST', '/events', noEqualsBody(Math.floor((1024 * 1024 - 2) / 2)), FORM),
  );
  await single('GET /events', 405, requestBytes('GET', '/events', Buffer.alloc(0), undefined));
  await single('PUT /events', 405, requestBytes('PUT', '/events', Buffer.from('a=1'), FORM));
  await single('POST /other', 404, requestBytes('POST', '/other', Buffer.from('a=1'), FORM));
  const stalledResult = await stalledAnswer;
  stalled.close();
  special.push({
    what: 'body never completes',
    expect: 408,
    status: stalledResult instanceof Error ? 0 : stalledResult.status,
    ms: stalledResult instanceof Error ? NaN : Math.round(stalledResult.ms),
  });

  for (const c of conns) c.close();
  await sleep(500);
  const rssEnd = rssBytes(pid);
  const alive = gw.child.exitCode === null && gw.child.signalCode === null;
  const healthz = await fetch(`${gw.url}/healthz`).then(
    (r) => r.status,
    () => 0,
  );
  // A genuine event after all that is still accepted, stored and processed.
  const canary = await post(
    `${gw.url}/events`,
    formFixture('imconnector-message-update').replace(/ts=\d+/, 'ts=1999999999'),
  );
  const metricsBytes = await fetch(`${gw.adminUrl}/metrics`)
    .then((r) => r.text())
    .then(
      (t) => t.length,
      () => -1,
    );
  const store = new SqliteStore(db);
  let canaryDone = false;
  try {
    canaryDone = await waitUntil(
      async () => (await store.getEvent((canary.json as { id: number }).id))?.status === 'done',
      10_000,
      100,
    );
    const settled = await waitUntil(
      async () => {
        const c = await store.countEvents();
        return c.pending + c.processing === 0;
      },
      30_000,
      200,
    );
    const counts = await store.countEvents();
    const events = await store.listEvents();
    const codes = new Set(events.map((e) => e.code));
    const storedIds = new Set(events.map((e) => e.id));
    const lost = [...tally.ids].filter((id) => !storedIds.has(id)).length;
    figures('hostile-http', {
      seed,
      requests: HTTP_REQUESTS + special.length,
      'requests/s': rate,
      seconds: seconds.toFixed(1),
      answered: tally.answered,
      'no-answer': noAnswer,
      reconnects,
      failures: tally.failed,
      'acknowledged(200)': tally.ok,
      'distinct-acknowledged': tally.ids.size,
      stored: events.length,
      processed: counts.done,
      'kept-invalid': counts.invalid,
      'retry/dead': `${counts.retry}/${counts.dead}`,
      lost,
      'p50-ms': tally.percentile(0.5),
      'p99-ms': tally.percentile(0.99),
      'max-ms': Math.round(tally.maxMs),
      'rss-after-warmup': mb(rssStart),
      'rss-half': mb(rssHalf ?? NaN),
      'rss-peak': mb(rssPeak),
      'rss-end': mb(rssEnd),
      'distinct-event-codes-stored': codes.size,
      'metrics-bytes': metricsBytes,
      alive: String(alive),
      healthz,
      canary: `${canary.status}${canaryDone ? ' done' : ''}`,
    });
    console.log(`  hostile-http answers: ${tally.summary()}`);
    console.log(`  hostile-http rss (requests:MB): ${rssTrace.join(' ')}`);
    console.log(`  hostile-http kinds: ${[...tally.byKind.entries()].map(([k, n]) => `${k}:${n}`).join(' ')}`);
    for (const s of special)
      console.log(`  hostile-http special: ${s.what} → ${s.status} in ${s.ms} ms (expected ${s.expect})`);
    for (const f of tally.failures) console.log(`  hostile-http FAILURE: ${f}`);
    expect(tally.failures).toEqual([]);
    expect(noAnswer).toBe(0);
    expect(tally.answered).toBe(HTTP_REQUESTS + special.length - 1);
    expect(tally.slow).toBe(0);
    expect(special.map((s) => s.status)).toEqual(special.map((s) => s.expect));
    expect(alive).toBe(true);
    expect(healthz).toBe(200);
    expect(canary.status).toBe(200);
    expect(canaryDone).toBe(true);
    expect(tally.ok).toBeGreaterThan(0);
    expect(lost).toBe(0);
    expect(settled).toBe(true);
    expect(rssEnd - (rssHalf ?? rssStart)).toBeLessThan(RSS_SECOND_HALF_BOUND);
  } finally {
    await store.close();
  }
}, 300_000);

it(`hostile input through the in-process core: ${CORE_REQUESTS} mutated and random bodies to Gateway.receive`, async () => {
  const seed = seedFromEnv() + 1;
  const rng = prng(seed);
  const tally = new Tally();
  // Two worker threads, one Gateway each (the built package, own database), so both cores work.
  const threads = 2;
  const workerData = (i: number) => ({
    gatewayUrl: new URL('../../dist/gateway.js', import.meta.url).href,
    db: `${tmp.dir}/core-${i}.db`,
    appTokens: [
      [PORTAL_A.member, PORTAL_A.token],
      [PORTAL_B.member, PORTAL_B.token],
    ],
    allowDomains: ['127.0.0.1:9'],
  });
  const workers = Array.from(
    { length: threads },
    (_, i) => new Worker(new URL('./core-worker.mjs', import.meta.url), { workerData: workerData(i) }),
  );
  const threadIds = new Map(workers.map((w) => [w, new Set<number>()])); // ids answered 200, per thread (each has its own database)
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  let rssAfterWarmup = 0;
  const started = performance.now();
  let issued = 0;
  const BATCH = 1000;
  const drive = (w: Worker) =>
    new Promise<Finished>((resolve, reject) => {
      const batches = new Map<number, Hostile[]>();
      let id = 0;
      const sendBatch = () => {
        if (issued >= CORE_REQUESTS) return false;
        const list: Hostile[] = [];
        while (list.length < BATCH && issued < CORE_REQUESTS) {
          list.push(makeHostile(rng));
          issued++;
        }
        batches.set(++id, list);
        // One contiguous buffer per batch, transferred rather than copied.
        const packed = Buffer.concat(list.map((h) => h.body));
        const data = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength);
        w.postMessage(
          {
            type: 'batch',
            id,
            data,
            lengths: list.map((h) => h.body.length),
            types: list.map((h) => h.contentType ?? null),
          },
          [data],
        );
        return true;
      };
      w.on('error', reject);
      w.on('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      w.on(
        'message',
        (msg: { type: string; id: number; answers: { status: number; body: unknown; ms: number }[] } & Finished) => {
          if (msg.type === 'ready') {
            sendBatch();
            sendBatch();
          } else if (msg.type === 'answers') {
            const list = batches.get(msg.id)!;
            batches.delete(msg.id);
            msg.answers.forEach((a, i) => {
              if (a.status === 0) tally.fail(list[i]!, `receive threw: ${JSON.stringify(a.body)}`);
              else tally.check(list[i]!, a.status, a.body, a.ms);
              if (a.status === 200) threadIds.get(w)!.add((a.body as { id: number }).id);
            });
            const rss = process.memoryUsage().rss;
            rssPeak = Math.max(rssPeak, rss);
            if (rssAfterWarmup === 0 && tally.answered >= 40_000) rssAfterWarmup = rss;
            if (!sendBatch() && batches.size === 0)
              w.postMessage({
                type: 'finish',
                ids: [...threadIds.get(w)!],
                canary: Buffer.from(formFixture('imconnector-message-update').replace(/ts=\d+/, 'ts=1999999998')),
              });
          } else if (msg.type === 'finished') resolve(msg);
        },
      );
    });
  let finished: Finished[];
  try {
    finished = await Promise.all(workers.map(drive));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const seconds = (performance.now() - started) / 1000;
  const rssEnd = process.memoryUsage().rss;
  const stored = finished.reduce((s, f) => s + Object.values(f.counts).reduce((a, n) => a + n, 0), 0);
  figures('hostile-core', {
    seed,
    requests: CORE_REQUESTS,
    threads,
    'requests/s': Math.round(CORE_REQUESTS / seconds),
    seconds: seconds.toFixed(1),
    answered: tally.answered,
    failures: tally.failed,
    'acknowledged(200)': tally.ok,
    'distinct-acknowledged': finished.reduce((s, f) => s + f.acknowledged, 0),
    stored,
    processed: 'not run (intake only)',
    lost: finished.reduce((s, f) => s + f.lost, 0),
    'p99-ms': tally.percentile(0.99),
    'max-ms': Math.round(tally.maxMs),
    'heap-after-warmup(per thread)': finished.map((f) => mb(f.heapAfterWarmup)).join('/'),
    'heap-peak(per thread)': finished.map((f) => mb(f.heapPeak)).join('/'),
    'heap-end(per thread)': finished.map((f) => mb(f.heapEnd)).join('/'),
    'rss-before-threads': mb(rssStart),
    'rss-after-warmup': mb(rssAfterWarmup),
    'rss-peak': mb(rssPeak),
    'rss-end': mb(rssEnd),
    canary: finished.map((f) => f.canary).join('/'),
  });
  console.log(`  hostile-core answers: ${tally.summary()}`);
  for (const f of tally.failures) console.log(`  hostile-core FAILURE: ${f}`);
  expect(tally.failures).toEqual([]);
  expect(tally.answered).toBe(CORE_REQUESTS);
  expect(tally.slow).toBe(0);
  // The mutations must reach the store: some bodies are accepted, and each accepted one is there.
  expect(tally.ok).toBeGreaterThan(0);
  expect(finished.reduce((s, f) => s + f.acknowledged, 0)).toBeGreaterThan(0);
  expect(finished.map((f) => f.canary)).toEqual(finished.map(() => 200));
  expect(finished.every((f) => f.protoIntact)).toBe(true);
  expect(finished.map((f) => f.lost)).toEqual(finished.map(() => 0));
  // Each thread's V8 heap ends within the bound of where it stood after 20,000 bodies; the process RSS too.
  for (const f of finished) expect(f.heapEnd - f.heapAfterWarmup).toBeLessThan(HEAP_GROWTH_BOUND);
  expect(rssEnd - rssAfterWarmup).toBeLessThan(RSS_GROWTH_BOUND);
}, 600_000);

interface Finished {
  canary: number;
  acknowledged: number;
  lost: number;
  counts: Record<string, number>;
  heapStart: number;
  heapAfterWarmup: number;
  heapPeak: number;
  heapEnd: number;
  rss: number;
  protoIntact: boolean;
}
