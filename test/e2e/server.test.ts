import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture } from '../fixtures.js';
import { tempDir, holdsWithin as until } from '../helpers.js';

// The built package (dist/): its threads run the built thread code, as a user's would.
type Library = typeof import('../../src/index.js');
const lib = (await import(new URL('../../dist/index.js', import.meta.url).href)) as Library;

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const FORM = 'application/x-www-form-urlencoded';
const update = (messageId: string, ts: number) =>
  formFixture('imconnector-message-update').replace('ext-msg-005', messageId).replace('ts=1773760030', `ts=${ts}`);

interface Told {
  kind: 'setup' | 'handler' | 'channel';
  role?: string;
  threadId: number;
  messageId?: string;
  type?: string;
  young?: number;
}

/** Where the setup module reports what it sees, from whichever thread it runs on. */
async function startSink() {
  const told: Told[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      told.push(JSON.parse(body) as Told);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { told, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const post = async (url: string, body: string) => {
  const res = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': FORM }, body });
  return { status: res.status, body: (await res.json()) as { id?: number; error?: { code: string; message: string } } };
};

let tmp: ReturnType<typeof tempDir>;
let sink: Awaited<ReturnType<typeof startSink>>;
let servers: { close(): Promise<void> }[];
let setup: URL;
beforeEach(async () => {
  tmp = tempDir();
  sink = await startSink();
  servers = [];
  // Threads copy the environment when they start.
  process.env.B24GW_TEST_SINK = sink.url;
  setup = new URL('./server-setup.mjs', import.meta.url);
});
afterEach(async () => {
  for (const s of servers) await s.close();
  await sink.close();
  tmp.cleanup();
});

const spec = (extra: Partial<import('../../src/index.js').GatewaySpec> = {}) => ({
  db: `${tmp.dir}/s.db`,
  appTokens: new Map([[MEMBER, TOKEN]]),
  setup,
  worker: { pollMs: 50 },
  ...extra,
});
const start = async (...args: Parameters<Library['startServer']>) => {
  const server = await lib.startServer(...args);
  servers.push(server);
  return server;
};

describe('startServer with a spec and a setup module', () => {
  it('role all: the worker on a thread and the intake on this one, both built by the setup module, handlers and channel on the worker thread, one /metrics', async () => {
    const server = await start(spec(), { port: 0, admin: { port: 0 } });
    // The thread with the sockets keeps the intake's Gateway, which processes nothing.
    expect(server.gateway?.intake).toBeDefined();
    const setups = sink.told.filter((t) => t.kind === 'setup');
    // The worker thread's young generation is held small by default (workerLimits).
    expect(setups.map((t) => [t.role, t.threadId === 0, t.young])).toEqual([
      ['worker', false, 12],
      ['intake', true, undefined],
    ]);

    expect(await post(server.url, update('m-1', 1773760031))).toMatchObject({ status: 200, body: { id: 1 } });
    expect(
      await until(() => sink.told.some((t) => t.kind === 'channel') && sink.told.some((t) => t.kind === 'handler')),
    ).toBe(true);
    const worker = setups.find((t) => t.role === 'worker')!.threadId;
    expect(sink.told.filter((t) => t.kind === 'handler')).toEqual([
      { kind: 'handler', role: 'worker', eventId: 1, messageId: 'm-1', aborted: false, threadId: worker },
    ]);
    expect(sink.told.filter((t) => t.kind === 'channel')).toEqual([
      { kind: 'channel', type: 'message.updated', threadId: worker },
    ]);

    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
    expect(metrics).toContain('b24gw_events_received_total{event="ONIMCONNECTORMESSAGEUPDATE",duplicate="false"} 1'); // the intake's, on this thread
    expect(metrics).toContain('b24gw_events_processed_total{event="ONIMCONNECTORMESSAGEUPDATE",outcome="done"} 1'); // the worker thread's
    expect(metrics).toMatch(/^b24gw_process_cpu_seconds_total \d/m); // this thread's
    expect(metrics.match(/^# TYPE b24gw_queue_depth gauge$/gm)).toHaveLength(1);
  });

  it('close(): readiness goes false while a request in flight finishes, then the threads stop', async () => {
    const server = await start(spec(), { port: 0 });
    const { port } = new URL(server.url);
    // One connection: a delivery whose body is still coming, then a readiness check behind it.
    const socket = connect(Number(port), '127.0.0.1');
    let answers = '';
    socket.on('data', (c: Buffer) => (answers += c.toString()));
    await new Promise((r) => socket.once('connect', r));
    const body = update('m-2', 1773760032);
    socket.write(
      `POST /events HTTP/1.1\r\nhost: x\r\ncontent-type: ${FORM}\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 100)}`,
    );
    // Time for the server to take the request in (a wait, not an assertion: it has nothing to watch).
    await new Promise((r) => setTimeout(r, 200));
    const closed = server.close();
    socket.write(`${body.slice(100)}GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n`);
    // The server ends the connection after its last answer, and only then is it closed.
    await new Promise((r) => socket.once('close', r));
    await closed;
    expect(answers).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*"ok":true,"id":1[\s\S]*HTTP\/1\.1 503 [\s\S]*"not ready"/);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    const { SqliteStore } = (await import(
      new URL('../../dist/store/sqlite/store.js', import.meta.url).href
    )) as typeof import('../../src/store/sqlite/store.js');
    const store = new SqliteStore(`${tmp.dir}/s.db`);
    try {
      expect((await store.getEvent(1))?.status).toBe('done');
    } finally {
      await store.close();
    }
  });

  it('role intake and role worker: each builds its gateway on this thread with the setup module; the worker takes no events', async () => {
    const intake = await start(spec(), { port: 0, role: 'intake' });
    const worker = await start(spec(), { port: 0, role: 'worker' });
    expect(intake.gateway).toBeDefined();
    expect(worker.gateway).toBeDefined();
    expect(sink.told.filter((t) => t.kind === 'setup')).toEqual([
      { kind: 'setup', role: 'intake', threadId: 0 },
      { kind: 'setup', role: 'worker', threadId: 0 },
    ]);
    expect(await post(worker.url, update('m-3', 1773760033))).toMatchObject({
      status: 404,
      body: { error: { code: 'B24GW_NOT_FOUND' } },
    });
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
    expect(await post(intake.url, update('m-3', 1773760033))).toMatchObject({ status: 200 });
    // Another server's worker finds it on its poll; the intake alone never processes.
    expect(await until(() => sink.told.some((t) => t.kind === 'handler'))).toBe(true);
    expect(sink.told.filter((t) => t.kind === 'handler').map((t) => [t.role, t.messageId, t.threadId])).toEqual([
      ['worker', 'm-3', 0],
    ]);
  });

  it('refuses to start, with B24GW_BAD_CONFIG, when the setup module cannot be loaded, exports no function, fails, or options cannot cross a thread', async () => {
    const module = (name: string, text: string) => {
      writeFileSync(`${tmp.dir}/${name}.mjs`, text);
      return `${tmp.dir}/${name}.mjs`;
    };
    const cases: [string | URL, RegExp][] = [
      [`${tmp.dir}/missing.mjs`, /^The setup module file:.*missing\.mjs could not be loaded/],
      [module('broken', 'throw new Error("broken at load");'), /could not be loaded: broken at load$/],
      [module('nothing', 'export default 42;'), /must export a function by default/],
      [module('fails', 'export default () => { throw new Error("no channel here"); };'), /failed: no channel here$/],
      [module('other', 'export default () => ({});'), /returned no Gateway$/],
    ];
    for (const role of ['all', 'worker'] as const) {
      for (const [setupModule, message] of cases) {
        const error = await lib.startServer(spec({ setup: setupModule }), { port: 0, role }).then(
          (s) => (servers.push(s), undefined),
          (e: unknown) => e,
        );
        expect([role, String(setupModule), error]).toMatchObject([
          role,
          String(setupModule),
          { code: 'B24GW_BAD_CONFIG', message: expect.stringMatching(message) },
        ]);
      }
    }
    const withFunction = {
      ...spec(),
      channel: { url: 'http://127.0.0.1:9/', secret: `whsec_${'A'.repeat(32)}`, fetch: () => undefined },
    } as unknown as Parameters<Library['startServer']>[0];
    await expect(lib.startServer(withFunction, { port: 0 })).rejects.toMatchObject({
      code: 'B24GW_BAD_CONFIG',
      message: expect.stringMatching(/plain data/),
    });
  });

  it('a worker thread that stops by itself: onThreadExit hears it; by default the server closes', async () => {
    const exits: [string, number][] = [];
    const server = await start(spec(), { port: 0, onThreadExit: (role, code) => void exits.push([role, code]) });
    expect(await post(server.url, update('exit-worker', 1773760034))).toMatchObject({ status: 200 });
    expect(await until(() => exits.length > 0)).toBe(true);
    expect(exits).toEqual([['worker', 3]]);

    const other = await start(spec({ db: `${tmp.dir}/t.db` }), { port: 0 });
    expect(await post(other.url, update('exit-worker', 1773760035))).toMatchObject({ status: 200 });
    expect(
      await until(() =>
        fetch(`${other.url}/healthz`).then(
          () => false,
          () => true,
        ),
      ),
    ).toBe(true);
  });
});
