import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { httpBuildQuery, startSandbox } from '@b24-im-gateway/sandbox';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { storedTokenOf } from '../../src/verify/tokens.js';
import { formFixture } from '../fixtures.js';
import { channelFlags, oauthFlags, startGatewayProcess } from '../process.js';
import { figures, PORTAL_A, PORTAL_B, post, waitUntil } from './lib.js';
import { useRig } from './rig.js';

/**
 * Scenario 5: forged traffic. Two portals installed through the sandbox and two configured
 * with --app-token. Wrong, missing and other-portal tokens, unknown portals and forged
 * installs must all be refused, and none of them may be stored or reach the channel.
 */

const rig = useRig();

const hex = () => randomBytes(16).toString('hex');
type Payload = Record<string, unknown> & { auth: Record<string, unknown>; data: Record<string, unknown> };
const clone = (p: Record<string, unknown>): Payload => structuredClone(p) as Payload;

interface Case {
  name: string;
  body: string;
  /** Statuses that count as refused for this case. */
  refusedWith: number[];
}

/** A sandbox with two installed portals, a gateway that also knows two portals by --app-token, and forgery makers. */
async function world() {
  rig.sb = await startSandbox({ plan: 'enterprise' });
  const db = `${rig.tmp.dir}/forged.db`;
  rig.gw = await startGatewayProcess([
    '--db',
    db,
    '--allow-domain',
    '127.0.0.1:*',
    '--app-token',
    `${PORTAL_A.member}=${PORTAL_A.token}`,
    '--app-token',
    `${PORTAL_B.member}=${PORTAL_B.token}`,
    ...oauthFlags(rig.sb),
    ...channelFlags(rig.channel),
    '--log-level',
    'error',
  ]);
  const events = `${rig.gw.url}/events`;
  const p1 = rig.sb.portal;
  const p2 = rig.sb.addPortal();
  for (const p of [p1, p2]) {
    expect((await rig.sb.install(p, events)).ok).toBe(true);
    p.ensureConnector('forged_test', 1);
    p.bind('ONIMCONNECTORMESSAGEADD', events);
  }
  const legit = new Set<number>();
  const toChannel = new Set<number>(); // genuine connector events, which the channel must see
  let round = 0;
  /** One genuine event from each of the four portals; returns the answers of the configured ones. */
  const genuine = async () => {
    round++;
    for (const p of [p1, p2]) {
      const m = await rig.sb!.act.operatorWrites(p, {
        connector: 'forged_test',
        line: 1,
        externalChatId: `genuine-${round}`,
        text: `genuine ${round}`,
      });
      expect(m.delivery.ok).toBe(true);
      const id = (JSON.parse(m.delivery.deliveries[0]!.responseBody!) as { id: number }).id;
      legit.add(id);
      toChannel.add(id);
    }
    // Portal B's connector event goes to the channel; portal A's open line event is stored only.
    const answers: Record<string, number> = {};
    for (const name of ['imconnector-message-update', 'openline-message-update']) {
      const res = await post(
        events,
        formFixture(name).replace(/ts=(\d+)/, (_, ts: string) => `ts=${Number(ts) + round}`),
      );
      answers[name] = res.status;
      if (res.status !== 200) continue;
      const id = (res.json as { id: number }).id;
      legit.add(id);
      if (name.startsWith('imconnector')) toChannel.add(id);
    }
    return answers;
  };
  // Templates taken from what the sandbox really sent.
  await genuine();
  const sentAdd = clone(
    rig.sb.recorder.deliveries({ code: 'ONIMCONNECTORMESSAGEADD', memberId: p1.memberId })[0]!.payload,
  );
  const sentInstall = clone(rig.sb.recorder.deliveries({ code: 'ONAPPINSTALL', memberId: p2.memberId })[0]!.payload);
  let k = 0;
  const forgedEvent = (auth: (a: Record<string, unknown>) => void): string => {
    const p = clone(sentAdd);
    const messages = p.data.MESSAGES as { message: { text: string }; chat: { id: string } }[];
    messages[0]!.message.text = `FORGED ${k}`;
    messages[0]!.chat.id = `forged-chat-${k++}`;
    auth(p.auth);
    return httpBuildQuery(p);
  };
  const forgedInstall = (auth: (a: Record<string, unknown>) => void): string => {
    const p = clone(sentInstall);
    auth(p.auth);
    return httpBuildQuery(p);
  };

  const run = async (scenario: string, cases: Case[], forgedMembers: string[]) => {
    const results: { name: string; status: number; code: string; refused: boolean }[] = [];
    for (const c of cases) {
      const res = await post(events, c.body);
      const code = (res.json as { error?: { code?: string } })?.error?.code ?? (res.status === 200 ? 'ACCEPTED' : '?');
      results.push({ name: c.name, status: res.status, code, refused: c.refusedWith.includes(res.status) });
    }
    for (const r of results)
      console.log(`  ${scenario}: ${r.refused ? 'refused ' : 'ACCEPTED'} ${r.status} ${r.code.padEnd(28)} ${r.name}`);
    // Genuine traffic still flows afterwards, with the tokens the forgeries tried to replace.
    const after = await genuine();
    const store = new SqliteStore(db);
    try {
      expect(
        await waitUntil(
          async () => (await store.countEvents()).pending === 0 && rig.channel.deliveries.length >= toChannel.size,
          10_000,
          100,
        ),
      ).toBe(true);
      const stored = await store.listEvents();
      const forgedStored = stored.filter(
        (e) =>
          e.rawBody.includes('FORGED') ||
          forgedMembers.includes(e.memberId) ||
          (e.code === 'ONAPPINSTALL' ? ![p1.memberId, p2.memberId].includes(e.memberId) : !legit.has(e.id)),
      );
      const portals = await store.listPortals();
      const forgedDelivered = rig.channel.deliveries.filter(
        (d) => JSON.stringify(d.payload).includes('FORGED') || !legit.has(d.payload.source.eventId),
      );
      figures(scenario, {
        forgeries: cases.length,
        refused: results.filter((r) => r.refused).length,
        accepted: results.filter((r) => r.status === 200).length,
        'forged-stored': forgedStored.length,
        'forged-delivered': forgedDelivered.length,
        'genuine-acknowledged': legit.size,
        'genuine-stored': stored.filter((e) => legit.has(e.id)).length,
        'genuine-delivered': new Set(rig.channel.deliveries.map((d) => d.webhookId)).size,
        'genuine-refused-after': Object.values(after).filter((s) => s !== 200).length,
        portals: portals.length,
      });
      return {
        notRefused: results.filter((r) => !r.refused).map((r) => `${r.status} ${r.code} ${r.name}`),
        forgedStored: forgedStored.map((e) => `${e.id} ${e.code} ${e.memberId}`),
        forgedDelivered,
        after,
        portalTokens: Object.fromEntries(portals.map((p) => [p.memberId, p.applicationToken])),
        genuineTokens: {
          [p1.memberId]: storedTokenOf(p1.applicationToken),
          [p2.memberId]: storedTokenOf(p2.applicationToken),
        },
        delivered: new Set(rig.channel.deliveries.map((d) => d.payload.source.eventId)),
        toChannel,
      };
    } finally {
      await store.close();
    }
  };
  return { p1, p2, forgedEvent, forgedInstall, run };
}

it('forged traffic: wrong, missing and other-portal tokens, unknown portals and forged installs are refused; nothing of them is stored or delivered', async () => {
  const { p1, p2, forgedEvent, forgedInstall, run } = await world();
  const stranger = hex();
  const claimed = hex();
  const fixtureB = formFixture('imconnector-message-update').replace('ext-msg-005', 'FORGED-fixture');
  const fixtureA = formFixture('openline-message-update').replace('chat%5D%5Bid%5D=1024', 'chat%5D%5Bid%5D=FORGED');
  const cases: Case[] = [
    { name: 'wrong token', refusedWith: [401], body: forgedEvent((a) => (a.application_token = hex())) },
    {
      name: 'token of the other installed portal',
      refusedWith: [401],
      body: forgedEvent((a) => (a.application_token = p2.applicationToken)),
    },
    {
      name: 'member_id of the other installed portal, own token',
      refusedWith: [401],
      body: forgedEvent((a) => (a.member_id = p2.memberId)),
    },
    {
      name: 'token of a configured portal on an installed one',
      refusedWith: [401],
      body: forgedEvent((a) => (a.application_token = PORTAL_A.token)),
    },
    {
      name: 'configured portal B with portal A token',
      refusedWith: [401],
      body: fixtureB.replace(PORTAL_B.token, PORTAL_A.token),
    },
    {
      name: 'configured portal A with portal B token',
      refusedWith: [401],
      body: fixtureA.replace(PORTAL_A.token, PORTAL_B.token),
    },
    {
      name: 'configured portal B with an installed portal token',
      refusedWith: [401],
      body: fixtureB.replace(PORTAL_B.token, p1.applicationToken),
    },
    { name: 'empty token', refusedWith: [401], body: forgedEvent((a) => (a.application_token = '')) },
    // The schema requires auth[application_token], so a body without one is malformed (400) before it is unverified.
    { name: 'missing token', refusedWith: [400, 401], body: forgedEvent((a) => delete a.application_token) },
    { name: 'missing member_id', refusedWith: [400, 401], body: forgedEvent((a) => delete a.member_id) },
    {
      name: 'token with one character changed',
      refusedWith: [401],
      body: forgedEvent(
        (a) =>
          (a.application_token = `${p1.applicationToken.slice(0, -1)}${p1.applicationToken.endsWith('0') ? '1' : '0'}`),
      ),
    },
    {
      name: 'token as a prefix',
      refusedWith: [401],
      body: forgedEvent((a) => (a.application_token = p1.applicationToken.slice(0, 16))),
    },
    {
      name: 'token with a suffix',
      refusedWith: [401],
      body: forgedEvent((a) => (a.application_token = `${p1.applicationToken}0`)),
    },
    {
      name: 'unknown portal',
      refusedWith: [401],
      body: forgedEvent((a) => ((a.member_id = stranger), (a.application_token = hex()))),
    },
    {
      name: 'install with an access token the sandbox never issued',
      refusedWith: [401],
      body: forgedInstall((a) => ((a.member_id = stranger), (a.access_token = hex()), (a.application_token = claimed))),
    },
    {
      name: '... then an event with the token that install claimed',
      refusedWith: [401],
      body: forgedEvent((a) => ((a.member_id = stranger), (a.application_token = claimed))),
    },
    {
      name: 'install from a domain not on the allow-list',
      refusedWith: [401],
      body: forgedInstall(
        (a) => ((a.member_id = stranger), (a.domain = 'evil.example.com'), (a.application_token = claimed)),
      ),
    },
    {
      name: 'install from a Bitrix24 cloud domain (not on this allow-list)',
      refusedWith: [401],
      body: forgedInstall(
        (a) => ((a.member_id = stranger), (a.domain = 'victim.bitrix24.com'), (a.application_token = claimed)),
      ),
    },
    {
      name: 'install with no access token',
      refusedWith: [400, 401],
      body: forgedInstall((a) => ((a.member_id = stranger), delete a.access_token, (a.application_token = claimed))),
    },
    {
      name: 're-install of an installed portal with a never-issued access token',
      refusedWith: [401],
      body: forgedInstall(
        (a) => ((a.member_id = p1.memberId), (a.access_token = hex()), (a.application_token = claimed)),
      ),
    },
    {
      name: 're-install of an installed portal from another allowed domain',
      refusedWith: [401],
      body: forgedInstall(
        (a) => ((a.member_id = p1.memberId), (a.domain = '127.0.0.1:1'), (a.application_token = claimed)),
      ),
    },
    {
      name: '... then an event for it with the token those installs claimed',
      refusedWith: [401],
      body: forgedEvent((a) => (a.application_token = claimed)),
    },
    {
      name: 'uninstall of an installed portal with a wrong token',
      refusedWith: [401],
      body: httpBuildQuery({
        event: 'ONAPPUNINSTALL',
        data: { LANGUAGE_ID: 'en', CLEAN: 0 },
        ts: 1773760000,
        auth: { domain: p1.domain, member_id: p1.memberId, application_token: hex() },
      }),
    },
  ];
  const r = await run('forged', cases, [stranger]);
  expect(r.notRefused).toEqual([]);
  expect(r.forgedStored).toEqual([]);
  expect(r.forgedDelivered).toEqual([]);
  expect(r.after).toEqual({ 'imconnector-message-update': 200, 'openline-message-update': 200 });
  // Only the two genuine installs made portal records, each with its own token.
  expect(r.portalTokens).toEqual(r.genuineTokens);
  expect(r.delivered).toEqual(r.toChannel);
}, 120_000);

/**
 * app.info proves that the install's access token works on the claimed domain, not that it
 * belongs to the claimed member_id. An attacker who installed the application on a portal of
 * their own (on an allowed domain) holds such a token.
 */
it("forged installs with a genuine access token of the attacker's own portal, claiming another member_id, are refused", async () => {
  const { forgedEvent, forgedInstall, run } = await world();
  const squatted = hex();
  const claimed = hex();
  const cases: Case[] = [
    {
      name: 'install claiming a --app-token portal, genuine token of another portal',
      refusedWith: [401],
      body: forgedInstall((a) => ((a.member_id = PORTAL_A.member), (a.application_token = claimed))),
    },
    {
      name: '... then an event as that portal with the claimed token',
      refusedWith: [401],
      body: forgedEvent((a) => ((a.member_id = PORTAL_A.member), (a.application_token = claimed))),
    },
    {
      name: 'install claiming a portal not seen yet, genuine token of another portal',
      refusedWith: [401],
      body: forgedInstall((a) => ((a.member_id = squatted), (a.application_token = claimed))),
    },
    {
      name: '... then an event as that portal with the claimed token',
      refusedWith: [401],
      body: forgedEvent((a) => ((a.member_id = squatted), (a.application_token = claimed))),
    },
  ];
  const r = await run('forged-install-claims', cases, [squatted]);
  expect(r.notRefused).toEqual([]);
  expect(r.forgedStored).toEqual([]);
  expect(r.forgedDelivered).toEqual([]);
  // Portal A's own events, with its configured token, must still be accepted.
  expect(r.after).toEqual({ 'imconnector-message-update': 200, 'openline-message-update': 200 });
  expect(r.portalTokens).toEqual(r.genuineTokens);
}, 120_000);
