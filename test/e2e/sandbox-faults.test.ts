import { expect, it } from 'vitest';
import type { Portal, StatusRecord } from '@b24-im-gateway/sandbox';
import { CONNECTOR, useSandboxRig } from './sandbox-rig.js';

// The gateway process against the sandbox when Bitrix24 misbehaves: tokens expiring mid-run,
// the REST rate limit under a burst, an outage of REST and OAuth while events keep coming.

const LINE = 1;

const rig = useSandboxRig({ timeoutMs: 60_000 });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Installs (verified by the gateway) and sets the connector up as the application would. */
async function installed(portal: Portal): Promise<string> {
  const install = await rig.sb.install(portal, rig.eventsUrl());
  rig.storedId(install);
  portal.ensureConnector(CONNECTOR, LINE);
  portal.bind('ONIMCONNECTORMESSAGEADD', rig.eventsUrl());
  return install.tokens.access_token;
}

interface Sent {
  memberId: string;
  eventId: number;
  chatId: number;
  messageId: number;
}

async function write(portal: Portal, n: number, chats = 4): Promise<Sent> {
  const m = await rig.sb.act.operatorWrites(portal, {
    connector: CONNECTOR,
    line: LINE,
    externalChatId: `chat-${n % chats}`,
    text: `Message ${n}`,
  });
  return { memberId: portal.memberId, eventId: rig.storedId(m.delivery), chatId: m.chat.id, messageId: m.message.id };
}

/** Waits for one delivery status per message, each naming the channel's id for it; returns them. */
async function statusesFor(sent: Sent[], timeoutMs?: number): Promise<StatusRecord[]> {
  const find = (s: Sent) =>
    rig.sb.recorder.statuses().find((r) => r.memberId === s.memberId && r.messageId === s.messageId);
  const found = await rig.until(
    () => (sent.every(find) ? sent.map((s) => find(s)!) : undefined),
    () => `${sent.length} delivery statuses (have ${sent.filter(find).length})`,
    timeoutMs,
  );
  for (const [i, s] of sent.entries()) {
    expect(found[i]).toMatchObject({
      kind: 'delivery',
      connector: CONNECTOR,
      line: LINE,
      chatId: s.chatId,
      externalIds: [`ext-evt_${s.eventId}_0`],
      known: true,
    });
  }
  return found;
}

/** REST requests the gateway made over the wire (a batch is one request; the commands inside are not). */
const requests = () => rig.sb.recorder.calls().filter((c) => c.batchSeq === undefined && c.method !== 'app.info');

it('token expiry mid-run: the gateway refreshes once per portal with its client id/secret, and statuses keep arriving', async () => {
  await rig.startGateway();
  const portals = [rig.sb.portal, rig.sb.addPortal()];
  const installTokens = await Promise.all(portals.map(installed));

  const before = await Promise.all(portals.flatMap((p) => range(5).map((n) => write(p, n))));
  await statusesFor(before);
  // Each install spent its refresh token once to bind the portal; nothing else so far.
  const atInstall = rig.sb.recorder.tokenRequests();
  expect(atInstall).toHaveLength(portals.length);

  const pairsBefore = await Promise.all(portals.map((p) => rig.store!.getPortal(p.memberId)));
  rig.sb.faults.expireTokens();
  const after = await Promise.all(portals.flatMap((p) => range(20).map((n) => write(p, 100 + n))));
  await statusesFor(after);

  const refreshes = rig.sb.recorder.tokenRequests().slice(atInstall.length);
  for (const p of portals) {
    expect(refreshes.filter((t) => t.memberId === p.memberId)).toEqual([
      expect.objectContaining({ grantType: 'refresh_token', clientId: rig.sb.clientId, ok: true }),
    ]);
  }
  expect(rig.sb.recorder.calls().filter((c) => c.error === 'expired_token').length).toBeGreaterThan(0);
  expect(refreshes).toHaveLength(portals.length);
  // The new pair was kept, so a restart would not need another refresh.
  for (const [i, p] of portals.entries()) {
    const stored = await rig.store!.getPortal(p.memberId);
    expect(stored?.accessToken).toBeTruthy();
    expect(stored?.accessToken).not.toBe(installTokens[i]);
    expect(stored?.accessToken).not.toBe(pairsBefore[i]?.accessToken);
  }
  await rig.allDone(portals.length * 26);
  expect(await rig.store!.countStatuses()).toEqual({ pending: 0, sent: 50, dead: 0 });
});

it('a burst of hundreds of events: every status arrives, within the rate limit, in far fewer REST requests than events', async () => {
  await rig.startGateway();
  const portal = rig.sb.portal;
  await installed(portal);
  const total = 400;
  const sent: Sent[] = [];
  let next = 0;
  const started = Date.now();
  await Promise.all(
    range(16).map(async () => {
      while (next < total) sent.push(await write(portal, next++, 20));
    }),
  );
  await statusesFor(sent, 90_000);
  const seconds = (Date.now() - started) / 1000;
  await rig.allDone(total + 1);

  const all = requests();
  const limited = all.filter((c) => c.error === 'QUERY_LIMIT_EXCEEDED');
  console.log(
    `burst: ${total} events, ${all.length} REST requests (${limited.length} answered 503) in ${seconds.toFixed(1)} s`,
  );
  expect(all.every((c) => c.httpStatus === 200 || c.error === 'QUERY_LIMIT_EXCEEDED')).toBe(true);
  // The install's app.info call-back is not counted by the gateway's own bucket, so a burst past 50 may meet one 503.
  expect(limited.length).toBeLessThanOrEqual(3);
  // The standard bucket: 50 at once, then 2 per second.
  expect(all.length - limited.length).toBeLessThanOrEqual(50 + 2 * seconds);
  expect(all.length).toBeLessThan(total / 4);
  expect(rig.sb.recorder.statuses()).toHaveLength(total);
  expect(await rig.store!.countStatuses()).toEqual({ pending: 0, sent: total, dead: 0 });
}, 120_000);

it('an outage of REST and OAuth while events keep coming: events are accepted and stored, and everything is delivered after it ends', async () => {
  // Long enough a schedule that a status keeps trying through the outage (the last try comes 15 s or more after the first).
  await rig.startGateway(['--retry-schedule', '200ms,500ms,1s,2s,5s,10s']);
  const portal = rig.sb.portal;
  await installed(portal);
  const before = await Promise.all(range(5).map((n) => write(portal, n)));
  await statusesFor(before);

  // Down: first with 503 pages, then with dropped connections; the tokens expire meanwhile, so OAuth is needed too.
  rig.sb.faults.set({ outage: 'http503' });
  rig.sb.faults.expireTokens();
  const during: Sent[] = [];
  const keepWriting = async (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      during.push(await write(portal, 100 + during.length));
      await sleep(40);
    }
  };
  await keepWriting(1500);
  rig.sb.faults.set({ outage: 'reset' });
  await keepWriting(1500);
  expect(during.length).toBeGreaterThan(10);
  // Every event was answered 200 and stored (write() checks the answer); the statuses wait in the outbox.
  expect(await rig.store!.listEvents()).toHaveLength(1 + before.length + during.length);
  const waiting = await rig.store!.countStatuses();
  expect(waiting.pending).toBeGreaterThan(0);
  expect(waiting.dead).toBe(0);
  expect(rig.sb.recorder.statuses()).toHaveLength(before.length);

  rig.sb.faults.set({ outage: false });
  await statusesFor(during);
  await rig.allDone(1 + before.length + during.length);
  expect(await rig.store!.countStatuses()).toEqual({ pending: 0, sent: before.length + during.length, dead: 0 });
  // The install's exchange, then one refresh after the outage, none lost to it (a refresh token works once).
  expect(rig.sb.recorder.tokenRequests()).toEqual([
    expect.objectContaining({ grantType: 'refresh_token', memberId: portal.memberId, ok: true }),
    expect.objectContaining({ grantType: 'refresh_token', memberId: portal.memberId, ok: true }),
  ]);
  expect(rig.sb.recorder.statuses()).toHaveLength(before.length + during.length);
});
