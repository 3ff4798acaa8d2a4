import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { CLIENT_ID, CLIENT_SECRET, installPortal } from '../../test/bitrix-sandbox.js';
import { tempDir } from '../../test/helpers.js';
import { newEvent } from '../../test/records.js';
import { BitrixClients } from '../effects/bitrix/client.js';
import { setupConnector } from '../setup/connector.js';
import { SqliteStore } from '../store/sqlite/store.js';
import { diagnose, type Check } from './checks.js';

// The doctor's checks that need a state hard to reach through the CLI: the portal's clock, a full
// REST bucket, dead letters in the inbox and the outboxes; and what it skips without a connector.

let tmp: ReturnType<typeof tempDir>;
let sb: Sandbox;
let store: SqliteStore;
let clients: BitrixClients;

async function open(now?: () => number): Promise<string> {
  tmp = tempDir();
  sb = await startSandbox({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...(now ? { now } : {}) });
  sb.faults.set({ rateLimit: false });
  store = new SqliteStore(`${tmp.dir}/d.db`);
  await installPortal(store, sb.portal, sb.issueTokens(sb.portal));
  clients = new BitrixClients({ store, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthServer: sb.url });
  return sb.portal.memberId;
}

afterEach(async () => {
  clients.close();
  await store.close();
  await sb.stop();
  tmp.cleanup();
});

const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

describe('doctor', () => {
  it('tells a portal clock ten minutes ahead, with the fix', async () => {
    const memberId = await open(() => Date.now() + 600_000);
    const checks = byName(await diagnose({ store, clients, memberId, roundTripMs: 1 }));
    expect(checks.token!.ok).toBe(true);
    expect(checks.clock).toMatchObject({
      ok: false,
      detail: "the portal's clock is 600 s ahead of this host's",
      fix: expect.stringMatching(/NTP/),
    });
  });

  it('tells a full REST bucket, and dead letters in the inbox and the outboxes, each with its fix', async () => {
    const memberId = await open();
    await store.append(
      newEvent({ dedupKey: 'dead-1', memberId, code: 'ONIMCONNECTORMESSAGEADD', handlerId: 1, ts: 1 }),
    );
    const [e] = await store.claim('w', 10, 1_000, 1, 1);
    await store.finish(e!.id, 'w', { ok: false, error: 'boom', retryAt: null }, 20);
    await store.appendCustomerAction({
      memberId,
      connector: 'c',
      line: 1,
      type: 'message.created',
      dedupKey: 'k',
      orderKey: 'o',
      item: '{}',
      receivedAt: 1,
    });
    const [a] = await store.claimCustomerActions('w', 10, 1_000, 1, 1);
    await store.finishCustomerActions([a!.id], 'w', { ok: false, error: 'boom', retryAt: null }, 20);

    // A QUERY_LIMIT_EXCEEDED fills the bucket; stamped a little ahead, so that it has not drained when the doctor reads it.
    await store.rateSlot(memberId, { burst: 50, perSecond: 2 }, Date.now() + 3_000, 'fill');
    const checks = byName(await diagnose({ store, clients, memberId, roundTripMs: 1 }));
    expect(checks['REST budget']).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^50 of 50 requests in the portal's bucket \(drains 2\/s\)/),
      fix: expect.stringMatching(/--plan enterprise/),
    });
    expect(checks.inbox).toMatchObject({
      ok: false,
      detail: '0 events waiting (0 to retry), 1 dead letters',
      fix: expect.stringMatching(/replay --dead/),
    });
    expect(checks.outboxes).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/dead: 0 statuses, 1 customer actions$/),
      fix: expect.stringMatching(/connector replay --dead/),
    });
  });

  it('skips the connector without its code, and checks the lines the gateway has seen its events on', async () => {
    const memberId = await open();
    expect(byName(await diagnose({ store, clients, memberId, roundTripMs: 1 })).connector).toMatchObject({
      ok: null,
      detail: expect.stringMatching(/--connector/),
    });
    await setupConnector(clients.forPortal(memberId), {
      id: 'acme',
      name: 'Acme',
      icon: '<svg/>',
      placementHandler: 'https://x.example/s',
      lines: [4],
      delivery: { url: 'http://127.0.0.1:9/events' },
    });
    await store.state.apply({ event: 'ONIMCONNECTORLINEDELETE', data: 9 }, { eventId: 1, memberId, receivedAt: 1 });
    await store.state.apply(
      { event: 'ONIMCONNECTORSTATUSDELETE', data: { connector: 'acme', line: 4 } },
      { eventId: 2, memberId, receivedAt: 1 },
    );
    expect(
      byName(await diagnose({ store, clients, memberId, connector: 'acme', roundTripMs: 1 })).connector,
    ).toMatchObject({ ok: true, detail: 'acme is registered and active on line 4' });
    expect(
      byName(await diagnose({ store, clients, memberId, connector: 'nope', roundTripMs: 1 })).connector,
    ).toMatchObject({ ok: false, detail: 'nope is not registered on the portal' });
  });

  it('offline: setup binds the events to the queue and ONOFFLINEEVENT to the gateway, once; the doctor shows the queue and the pulls', async () => {
    const memberId = await open();
    const client = clients.forPortal(memberId);
    const options = {
      id: 'acme',
      name: 'Acme',
      icon: '<svg/>',
      placementHandler: 'https://x.example/s',
      lines: [1],
      delivery: { offline: true as const, wakeUrl: 'http://127.0.0.1:9/events' },
    };
    const first = await setupConnector(client, options);
    expect(first.steps.filter((s) => s.outcome === 'done').map((s) => s.summary)).toContain(
      'bind ONOFFLINEEVENT to http://127.0.0.1:9/events',
    );
    const again = await setupConnector(client, options);
    expect(again.steps.filter((s) => s.method === 'event.bind' && s.outcome !== 'kept')).toEqual([]);
    expect(sb.portal.handlers.filter((h) => h.offline === 1).length).toBe(8);
    await sb.act.operatorWrites(sb.portal, { connector: 'acme', line: 1, externalChatId: 'e', text: 'waiting' });
    sb.portal.offline.records[0]!.ERROR = 1;
    await store.keepPullCursors([{ memberId, kind: 'offline', target: '' }], 1);
    const [c] = await store.claimPullCursors('w', 1, 1_000, 1, 1);
    await store.finishPullCursor(c!.id, 'w', { ok: false, error: 'QUERY_LIMIT_EXCEEDED', retryAt: null }, 2);
    const checks = byName(await diagnose({ store, clients, memberId, roundTripMs: 1 }));
    expect(checks.bindings).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/offline queue.*ONOFFLINEEVENT goes to http:\/\/127.0.0.1:9\/events/),
    });
    expect(checks['offline queue']).toMatchObject({
      ok: false,
      detail: '1 records waiting in the portal, 1 marked failed',
    });
    expect(checks.pulls).toMatchObject({ ok: false, fix: expect.stringMatching(/replay --pulls/) });
  });

  it('a portal the gateway does not hold: the first check fails and the local ones still run', async () => {
    await open();
    const checks = await diagnose({ store, clients, memberId: 'elsewhere', roundTripMs: 1 });
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ['portal', false],
      ['inbox', true],
      ['outboxes', true],
      ['pulls', null],
    ]);
  });
});
