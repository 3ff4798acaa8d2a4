import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { fakeChannel } from '../channel.js';
import { formFixture } from '../fixtures.js';
import { tempDirEach } from '../helpers.js';
import { startGatewayProcess, type GatewayProcess } from '../process.js';
import { waitUntil } from '../reliability/lib.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const seed = formFixture('imconnector-message-update');
const bodyFor = (n: number) =>
  seed
    .replace('channel-123', `chat-${n}`)
    .replace('ext-msg-005', `takeback-${n}`)
    .replace('ts=1773760030', `ts=${1773760030 + n}`);

const tmp = tempDirEach();
let gw: GatewayProcess | undefined;
afterEach(async () => {
  await gw?.kill('SIGKILL');
  gw = undefined;
});

it('a SQLite gateway restarted after SIGKILL takes back its own claims at once, not when their leases run out', async () => {
  // A channel that never answers: the events stay claimed, their handlers waiting, when the process dies.
  const held: ServerResponse[] = [];
  const hang = createServer((_req: IncomingMessage, res) => void held.push(res));
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
  const channel = await fakeChannel();
  const db = `${tmp.dir}/takeback.db`;
  // Leases of ten minutes: only the takeback at open can free the events within the test's wait.
  const args = (url: string) => [
    '--db',
    db,
    '--app-token',
    `${MEMBER}=${TOKEN}`,
    '--channel-url',
    url,
    '--channel-secret',
    channel.secret,
    '--lease',
    '10m',
    '--log-level',
    'error',
  ];
  try {
    gw = await startGatewayProcess(args(`http://127.0.0.1:${(hang.address() as AddressInfo).port}/hang`));
    for (let n = 0; n < 4; n++) {
      const res = await fetch(`${gw.url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: bodyFor(n),
      });
      expect(res.status).toBe(200);
    }
    expect(await waitUntil(() => held.length === 4, 10_000)).toBe(true);
    await gw.kill('SIGKILL');

    gw = await startGatewayProcess(args(channel.url));
    const delivered = await waitUntil(() => new Set(channel.deliveries.map((d) => d.webhookId)).size === 4, 20_000);
    await gw.kill('SIGTERM');
    gw = undefined;
    const store = new SqliteStore(db);
    try {
      const events = await store.listEvents();
      expect(delivered).toBe(true);
      expect(events.map((e) => [e.status, e.attempts])).toEqual(events.map(() => ['done', 2]));
      const first = await store.attempts(events[0]!.id);
      expect(first[0]!.error).toMatch(/no outcome before its lease ran out/);
    } finally {
      await store.close();
    }
  } finally {
    for (const res of held) res.destroy();
    await new Promise<void>((r) => hang.close(() => r()));
    await channel.close();
  }
}, 60_000);
