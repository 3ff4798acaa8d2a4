import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connectorCodes } from '../../src/events/registry.js';
import { callRest, httpBuildQuery, payloads, type DeliveryResult, type Portal } from '@b24-im-gateway/sandbox';
import { jsonFixture } from '../fixtures.js';
import { cli } from '../process.js';
import { CONNECTOR, useSandboxRig } from './sandbox-rig.js';
import { storedTokenOf } from '../../src/verify/tokens.js';

// The gateway as its own process (the built CLI) against the sandbox, a fake Bitrix24 on
// loopback, over real sockets: install, every seed and sibling event, delivery statuses,
// forged installs. Faults, load and restarts are in sandbox-faults.test.ts and sandbox-restart.test.ts.

const LINE = 3;

const rig = useSandboxRig({ timeoutMs: 30_000 });

/** The gateway's id of the event a delivery stored. */
function storedId(result: DeliveryResult): number {
  expect(result.deliveries).toHaveLength(1);
  return rig.storedId(result);
}

/** `b24-im-gateway events --db ... --json`, as an operator would read the store. */
async function eventsCli(): Promise<
  { id: number; event: string; memberId: string; status: string; attempts: number }[]
> {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'events', '--db', rig.db, '--json']);
  return JSON.parse(stdout) as { id: number; event: string; memberId: string; status: string; attempts: number }[];
}

/** The application's setup after install, with the install's token: connector, line, handlers, bot. */
async function setUp(portal: Portal, token: string, events: string[]): Promise<number> {
  const icon = { DATA_IMAGE: 'data:image/svg+xml;base64,PHN2Zy8+' };
  const cmd: Record<string, string> = {
    register: `imconnector.register?${httpBuildQuery({ ID: CONNECTOR, NAME: 'E2E', ICON: icon, PLACEMENT_HANDLER: `${rig.gw!.url}/placement` })}`,
    activate: `imconnector.activate?${httpBuildQuery({ CONNECTOR, LINE, ACTIVE: 1 })}`,
    ...Object.fromEntries(
      events.map((e, i) => [`bind${i}`, `event.bind?${httpBuildQuery({ event: e, handler: rig.eventsUrl() })}`]),
    ),
    bot: `imbot.register?${httpBuildQuery({ CODE: 'e2e_bot', TYPE: 'B', OPENLINE: 'Y', EVENT_HANDLER: rig.eventsUrl(), PROPERTIES: { NAME: 'E2E Bot' } })}`,
  };
  const reply = await callRest(rig.sb.restUrl, 'batch', { auth: token, halt: 1, cmd });
  expect(reply.status).toBe(200);
  expect(reply.body.result.result_error).toEqual([]);
  expect(portal.handlersFor('ONIMCONNECTORMESSAGEADD').map((h) => h.handler)).toEqual([rig.eventsUrl()]);
  return reply.body.result.result.bot as number;
}

describe('install', () => {
  it('is proven by the authorization server, user.admin and app.info with the exchanged pair, before the answer', async () => {
    await rig.startGateway();
    const portal = rig.sb.portal;
    const install = await rig.sb.install(portal, rig.eventsUrl());
    const auth = install.deliveries[0]!.payload.auth as Record<string, string>;
    const id = storedId(install);

    // The install's refresh token is exchanged once, before the answer: the answer names the
    // member_id and REST address the tokens belong to, and the new pair is the one kept.
    const exchanges = rig.sb.recorder.tokenRequests();
    expect(exchanges).toEqual([
      expect.objectContaining({
        grantType: 'refresh_token',
        clientId: rig.sb.clientId,
        memberId: portal.memberId,
        ok: true,
      }),
    ]);
    expect(exchanges[0]!.seq).toBeLessThan(install.deliveries[0]!.seq);
    // Then the portal itself, with the new pair: is the installer an administrator, which application is it.
    for (const method of ['user.admin', 'app.info']) {
      const [call] = rig.sb.recorder.calls({ method });
      expect(call).toMatchObject({ memberId: portal.memberId, userId: portal.adminUserId, httpStatus: 200 });
      expect(call!.seq).toBeGreaterThan(exchanges[0]!.seq);
      expect(call!.seq).toBeLessThan(install.deliveries[0]!.seq);
    }

    const stored = await rig.store!.getPortal(portal.memberId);
    expect(stored).toMatchObject({ domain: portal.domain, applicationToken: storedTokenOf(portal.applicationToken) });
    expect(stored?.accessToken).toBeTruthy();
    expect(stored?.accessToken).not.toBe(auth.access_token);
    expect(stored?.refreshToken).not.toBe(auth.refresh_token);
    await rig.allDone(1);
    expect(await eventsCli()).toEqual([
      expect.objectContaining({ id, event: 'ONAPPINSTALL', memberId: portal.memberId, status: 'done' }),
    ]);
  });

  it('refuses forged installs with 401 and stores nothing: a token the sandbox never issued, another portal’s member_id', async () => {
    await rig.startGateway(['--allow-domain', `localhost:${new URL(rig.sb.url).port}`]);
    const attacker = rig.sb.portal; // shares 127.0.0.1:PORT; the attacker has the application installed there
    const victim = rig.sb.addPortal({ domain: `localhost:${new URL(rig.sb.url).port}` }); // a portal with its own domain
    const forgedInstall = (memberId: string, domain: string, accessToken: string) => ({
      event: 'ONAPPINSTALL',
      data: payloads.appInstall({ version: 1, languageId: 'en' }),
      ts: Math.floor(Date.now() / 1000),
      auth: {
        domain,
        scope: 'imconnector,imopenlines',
        access_token: accessToken,
        refresh_token: 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0',
        expires_in: 3600,
        server_endpoint: rig.sb.restUrl,
        status: 'L',
        client_endpoint: `http://${domain}/rest/`,
        member_id: memberId,
        application_token: 'a77ac4e2a77ac4e2a77ac4e2a77ac4e2',
      },
    });
    const refused = async (payload: Record<string, unknown>, code: string) => {
      const d = await rig.sb.deliverPayload(victim, rig.eventsUrl(), payload);
      expect(d.status).toBe(401);
      expect(JSON.parse(d.responseBody!)).toMatchObject({ error: { code } });
    };

    // 1. A refresh token the authorization server never issued.
    await refused(
      forgedInstall(victim.memberId, victim.domain, 'deadbeefdeadbeefdeadbeefdeadbeef'),
      'B24GW_UNAUTHORIZED',
    );
    expect(rig.sb.recorder.tokenRequests().at(-1)).toMatchObject({ ok: false, error: 'invalid_grant' });
    // 2. The victim's member_id and domain with a real pair of another portal: the authorization server names that portal.
    const attackerPair = () => rig.sb.issueTokens(attacker);
    const withRealRefresh = (memberId: string, domain: string) => {
      const pair = attackerPair();
      const p = forgedInstall(memberId, domain, pair.access_token);
      p.auth.refresh_token = pair.refresh_token;
      return p;
    };
    await refused(withRealRefresh(victim.memberId, victim.domain), 'B24GW_UNAUTHORIZED');
    expect(rig.sb.recorder.tokenRequests().at(-1)).toMatchObject({ ok: true, memberId: attacker.memberId });
    // Neither forgery reached the portal's REST API.
    expect(rig.sb.recorder.calls({ method: 'app.info' })).toEqual([]);
    expect(await rig.store!.listEvents()).toEqual([]);
    expect(await rig.store!.getPortal(victim.memberId)).toBeUndefined();

    // The victim installs for real; then neither forgery can take the portal over.
    expect(storedId(await rig.sb.install(victim, rig.eventsUrl()))).toBeGreaterThan(0);
    await refused(withRealRefresh(victim.memberId, victim.domain), 'B24GW_UNAUTHORIZED');
    // 3. The victim's member_id on the attacker's domain, where the attacker's pair works.
    await refused(withRealRefresh(victim.memberId, attacker.domain), 'B24GW_UNAUTHORIZED');

    // Nothing of the forgeries was kept: one event, the victim's own application_token.
    const events = await rig.allDone(1);
    expect(events.map((e) => e.code)).toEqual(['ONAPPINSTALL']);
    expect(await rig.store!.getPortal(victim.memberId)).toMatchObject({
      domain: victim.domain,
      applicationToken: storedTokenOf(victim.applicationToken),
    });
    // And an event signed with the forger's application_token is refused too.
    victim.ensureConnector(CONNECTOR, LINE);
    const spoofed = await rig.sb.deliverPayload(victim, rig.eventsUrl(), {
      event: 'ONIMCONNECTORSTATUSDELETE',
      event_handler_id: 9,
      data: payloads.imconnectorStatusDelete({ connector: CONNECTOR, line: LINE }),
      ts: Math.floor(Date.now() / 1000),
      auth: {
        domain: victim.domain,
        member_id: victim.memberId,
        application_token: 'a77ac4e2a77ac4e2a77ac4e2a77ac4e2',
      },
    });
    expect(spoofed.status).toBe(401);
    expect(await rig.store!.listEvents()).toHaveLength(1);
  });
});

describe('a conversation through every seed and sibling event', () => {
  // The connector events and the Open Lines ones beside them; the bot's come through imbot.register.
  const bound = [
    ...connectorCodes,
    'ONOPENLINEMESSAGEADD',
    'ONOPENLINEMESSAGEUPDATE',
    'ONOPENLINEMESSAGEDELETE',
    'ONSESSIONSTART',
    'ONSESSIONFINISH',
  ];

  it('processes each event to done, delivers the channel payloads and reports delivery statuses with message.id lists', async () => {
    await rig.startGateway();
    const portal = rig.sb.portal;
    const installed = await rig.sb.install(portal, rig.eventsUrl());
    const installId = storedId(installed);
    const botId = await setUp(portal, installed.tokens.access_token, bound);
    const bots = [{ id: botId, code: 'e2e_bot', name: 'E2E Bot' }];
    const fixtureData = (name: string) => (JSON.parse(jsonFixture(name)) as { data: unknown }).data;

    const chat = portal.chatFor(CONNECTOR, LINE, 'ext-chat-7', 'ext-user-7');
    const ids: Record<string, number> = {};
    ids.dialogStart = storedId(await rig.sb.act.dialog(portal, chat.id, 'start'));
    const m1 = await rig.sb.act.operatorWrites(portal, {
      connector: CONNECTOR,
      line: LINE,
      externalChatId: 'ext-chat-7',
      text: 'Hello [b]there[/b]',
    });
    ids.add1 = storedId(m1.delivery);
    const m2 = await rig.sb.act.operatorWrites(portal, {
      connector: CONNECTOR,
      line: LINE,
      externalChatId: 'ext-chat-7',
      text: 'Wrong chat, sorry',
    });
    ids.add2 = storedId(m2.delivery);
    // An edit carries the ids the channel named, which Bitrix24 learns from the delivery status.
    const first = await rig.sb.recorder.waitFor('status', (s) => s.messageId === m1.message.id, 20_000);
    await rig.sb.recorder.waitFor('status', (s) => s.messageId === m2.message.id, 20_000);
    ids.update = storedId(await rig.sb.act.operatorEdits(portal, m1.message.id, 'Hello [b]there[/b], edited'));
    ids.olUpdate = storedId(
      await rig.sb.sendEvent(
        portal,
        'ONOPENLINEMESSAGEUPDATE',
        payloads.openlineMessageUpdate({ connector: CONNECTOR, line: LINE, chatId: chat.id, messageId: m1.message.id }),
      ),
    );
    ids.delete = storedId(await rig.sb.act.operatorDeletes(portal, m2.message.id));
    ids.olAdd = storedId(await rig.sb.sendEvent(portal, 'ONOPENLINEMESSAGEADD', fixtureData('openline-message-add')));
    ids.olDelete = storedId(
      await rig.sb.sendEvent(portal, 'ONOPENLINEMESSAGEDELETE', fixtureData('openline-message-delete')),
    );
    ids.sessionStart = storedId(await rig.sb.sendEvent(portal, 'ONSESSIONSTART', fixtureData('session-start')));
    ids.sessionFinish = storedId(await rig.sb.sendEvent(portal, 'ONSESSIONFINISH', fixtureData('session-finish')));
    const group = {
      bots,
      chatType: 'C' as const,
      chatId: 1157,
      messageId: 84351,
      text: ', how do I set up the left menu?',
    };
    ids.botAdd = storedId(await rig.sb.act.bot(portal, 'add', group));
    ids.botUpdate = storedId(
      await rig.sb.act.bot(portal, 'update', { ...group, text: ', how do I set up the left menu, please?' }),
    );
    ids.botDelete = storedId(await rig.sb.act.bot(portal, 'delete', { ...group, text: 'Message has been deleted' }));
    ids.dialogFinish = storedId(await rig.sb.act.dialog(portal, chat.id, 'finish'));
    ids.statusDelete = storedId(
      await rig.sb.sendEvent(
        portal,
        'ONIMCONNECTORSTATUSDELETE',
        payloads.imconnectorStatusDelete({ connector: CONNECTOR, line: LINE }),
      ),
    );
    ids.lineDelete = storedId(
      await rig.sb.sendEvent(portal, 'ONIMCONNECTORLINEDELETE', payloads.imconnectorLineDelete(LINE)),
    );

    const events = await rig.allDone(1 + Object.keys(ids).length);
    expect(new Set(events.map((e) => e.code))).toEqual(
      new Set(['ONAPPINSTALL', ...bound, 'ONIMBOTMESSAGEADD', 'ONIMBOTMESSAGEUPDATE', 'ONIMBOTMESSAGEDELETE']),
    );
    expect(events.every((e) => e.attempts === 1)).toBe(true);
    const listed = await eventsCli();
    expect(listed.map((e) => e.status)).toEqual(Array(events.length).fill('done'));
    expect(listed.map((e) => e.id).sort((a, b) => a - b)).toEqual(
      [installId, ...Object.values(ids)].sort((a, b) => a - b),
    );

    // The channel: one payload per connector event, of the right type, in order.
    const byEvent = (id: number) =>
      rig.channel.deliveries.filter((d) => d.payload.source.eventId === id).map((d) => d.payload);
    expect(byEvent(ids.dialogStart!).map((p) => p.type)).toEqual(['dialog.started']);
    expect(byEvent(ids.add1!)).toEqual([
      expect.objectContaining({
        type: 'message.created',
        chat: expect.objectContaining({ externalId: 'ext-chat-7', bitrixChatId: chat.id }),
      }),
    ]);
    expect(byEvent(ids.update!)).toEqual([
      expect.objectContaining({
        type: 'message.updated',
        message: expect.objectContaining({ externalIds: [`ext-evt_${ids.add1}_0`], bitrixMessageId: m1.message.id }),
      }),
    ]);
    expect(byEvent(ids.delete!)).toEqual([
      expect.objectContaining({
        type: 'message.deleted',
        message: expect.objectContaining({ externalIds: [`ext-evt_${ids.add2}_0`] }),
      }),
    ]);
    expect(byEvent(ids.dialogFinish!).map((p) => p.type)).toEqual(['dialog.finished']);
    expect(byEvent(ids.statusDelete!).map((p) => p.type)).toEqual(['connector.deleted']);
    expect(byEvent(ids.lineDelete!).map((p) => p.type)).toEqual(['line.deleted']);
    for (const key of [
      'olUpdate',
      'olAdd',
      'olDelete',
      'sessionStart',
      'sessionFinish',
      'botAdd',
      'botUpdate',
      'botDelete',
    ])
      expect(byEvent(ids[key]!), key).toEqual([]);
    expect(rig.channel.deliveries).toHaveLength(8);

    // Bitrix24 got a delivery status for each new message and for the edit: the right im ids, message.id as a list.
    await rig.until(
      () => (rig.sb.recorder.statuses().length >= 3 ? true : undefined),
      () => 'the edit’s delivery status',
    );
    const statuses = rig.sb.recorder.statuses();
    const delivered = (m: typeof m1, add: number | undefined) => ({
      kind: 'delivery',
      connector: CONNECTOR,
      line: LINE,
      chatId: chat.id,
      messageId: m.message.id,
      externalIds: [`ext-evt_${add}_0`],
      externalChatId: 'ext-chat-7',
      known: true,
    });
    expect(
      statuses.map((s) => ({
        kind: s.kind,
        connector: s.connector,
        line: s.line,
        chatId: s.chatId,
        messageId: s.messageId,
        externalIds: s.externalIds,
        externalChatId: s.externalChatId,
        known: s.known,
      })),
    ).toEqual([delivered(m1, ids.add1), delivered(m2, ids.add2), delivered(m1, ids.add1)]);
    expect(first.externalIds).toEqual([`ext-evt_${ids.add1}_0`]);
    // The sandbox took them from a list: message.id went out as MESSAGES[n][message][id][0].
    const statusCalls = rig.sb.recorder.calls({ method: 'imconnector.send.status.delivery' });
    expect(statusCalls.length).toBeGreaterThan(0);
    for (const call of statusCalls) {
      expect(call.httpStatus).toBe(200);
      for (const m of (call.params.MESSAGES ?? call.params.messages) as { message: { id: unknown } }[])
        expect(Array.isArray(m.message.id)).toBe(true);
    }
    // No refresh was needed past the install's own exchange, and nothing failed.
    expect(rig.sb.recorder.tokenRequests()).toHaveLength(1);
    expect(rig.sb.recorder.calls().filter((c) => c.httpStatus !== 200)).toEqual([]);
    expect(await rig.store!.countStatuses()).toEqual({ pending: 0, sent: 3, dead: 0 });

    // One /metrics (on the admin port) for both threads of `serve`: what the intake took, what the worker thread ran, the queue counted once.
    const metrics = await fetch(`${rig.gw!.adminUrl}/metrics`).then((r) => r.text());
    const sum = (name: string, label: string) =>
      metrics
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) && l.includes(label))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    expect(sum('b24gw_events_received_total', 'duplicate="false"')).toBe(events.length);
    expect(sum('b24gw_events_processed_total', 'outcome="done"')).toBe(events.length);
    expect(sum('b24gw_queue_depth', 'status="pending"') + sum('b24gw_queue_depth', 'status="processing"')).toBe(0);
    expect(metrics.split('\n').filter((l) => l.startsWith('b24gw_queue_depth{'))).toHaveLength(5);
    expect(sum('b24gw_rest_calls_total', 'result=')).toBeGreaterThan(0);
  });
});
