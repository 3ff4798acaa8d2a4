import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeChannel } from '../../test/channel.js';
import { formFixture } from '../../test/fixtures.js';
import type { Portal, Sandbox } from '@b24-im-gateway/sandbox';
import { CLIENT_ID, CLIENT_SECRET, commandsOf, requestsTo, startPortal } from '../../test/bitrix-sandbox.js';
import { tempDir } from '../../test/helpers.js';
import { Gateway } from '../gateway.js';

const MEMBERS = ['bac1cd5c8940947a75e0d71b1a84e348', 'a223c6b3710f85df22e9377d6c4f7553'];
const TOKENS = ['831c76b092f9f135d9b6b36c3a720757', '51856fefc120afa4b628cc82d3935cce'];
const APP_TOKEN = 'installed-app-token-1';
const FORM = 'application/x-www-form-urlencoded';

let tmp: ReturnType<typeof tempDir>;
let sb: Sandbox;
let portal: Portal;
let channel: Awaited<ReturnType<typeof fakeChannel>>;
let gateway: Gateway;
let clock: number;

/** A fixture as the fake portal would send it: its member_id and the installed token. */
const asPortal = (name: string, edit: (s: string) => string = (s) => s) => {
  let body = edit(formFixture(name));
  for (const m of MEMBERS) body = body.replaceAll(m, portal.memberId);
  for (const t of TOKENS) body = body.replaceAll(t, APP_TOKEN);
  return body;
};

const send = async (body: string) => {
  const r = await gateway.receive(body, FORM);
  if (!('id' in r)) throw r.error;
  return r.id;
};

beforeEach(async () => {
  tmp = tempDir();
  clock = Date.now();
  ({ sb, portal } = await startPortal());
  channel = await fakeChannel((p) => (p.type === 'message.created' ? { externalMessageIds: ['ext-msg-005'] } : {}));
  gateway = new Gateway({
    db: `${tmp.dir}/p.db`,
    allowDomains: ['127.0.0.1:*'],
    channel: { url: channel.url, secret: channel.secret, format: 'markdown' },
    bitrix: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthServer: sb.url },
    worker: { schedule: [5_000, 300_000], now: () => clock },
  });
  const pair = sb.issueTokens(portal);
  const install = formFixture('app-install')
    .replace('some-domain.bitrix24.com', portal.domain)
    .replaceAll('s6p6eclrvim6da22ft9ch94ekreb52lv', pair.access_token)
    .replace('4s386p3q0tr8dy89xvmt96234v3dljg8', pair.refresh_token)
    .replace(MEMBERS[1]!, portal.memberId)
    .replace(TOKENS[1]!, APP_TOKEN);
  await send(install);
});
afterEach(async () => {
  await gateway.close();
  await channel.close();
  await sb.stop();
  tmp.cleanup();
});

describe('the built-in effects, end to end over sockets', () => {
  it('the seed sequence ends in the right state, channel deliveries and REST calls', async () => {
    await send(asPortal('imconnector-message-add', (s) => s.replace('86497', '86501')));
    await send(asPortal('imconnector-message-update'));
    await send(
      asPortal('imconnector-message-update', (s) =>
        s.replace('What+questions', 'Which+questions').replace('ts=1773760030', 'ts=1773760031'),
      ),
    );
    await send(asPortal('imconnector-message-delete'));
    await send(asPortal('imconnector-dialog-start'));
    await send(asPortal('imbot-message-update-group'));
    let botSeen = 0;
    gateway.on('ONIMBOTMESSAGEUPDATE', (e, ctx) => {
      botSeen = e.data.PARAMS.MESSAGE_ID ?? 0;
      expect(ctx.bot?.id).toBe(571);
    });
    await gateway.drain();

    expect(await gateway.store.countEvents()).toMatchObject({ done: 7, retry: 0, dead: 0 });
    expect(botSeen).toBe(84537);
    const message = await gateway.state!.message(portal.memberId, { line: 107, imMessageId: 86501 });
    expect(message).toMatchObject({
      externalIds: ['ext-msg-005'],
      text: '[b]Samantha Johnson:[/b][br] Which questions do you have?',
      deleted: true,
    });
    expect(message?.history).toHaveLength(2);
    expect(await gateway.state!.dialogs(portal.memberId)).toMatchObject([
      { sessionId: 3282, open: true, closeTerm: 10 },
    ]);

    // One chat's deliveries keep their order; the dialog is another chat and may come at any point.
    const inChat = channel.deliveries
      .filter((d) => d.payload.chat?.externalId === 'channel-123')
      .map((d) => d.payload.type);
    expect(inChat).toEqual(['message.created', 'message.updated', 'message.updated', 'message.deleted']);
    expect(channel.deliveries.map((d) => d.payload.type)).toContain('dialog.started');
    const statusCalls = commandsOf(sb, 'imconnector.send.status.delivery');
    const confirmed = statusCalls.flatMap(
      (c) => Object.values(c.params.MESSAGES as object) as { im: { message_id: string }; message: { id: string[] } }[],
    );
    // The add (with the id the channel answered) and both updates are confirmed; a delete is not.
    expect(confirmed.map((m) => [Number(m.im.message_id), Object.values(m.message.id)])).toEqual([
      [86501, ['ext-msg-005']],
      [86501, ['ext-msg-005']],
      [86501, ['ext-msg-005']],
    ]);
  });

  it('1,000 updates in one chat cost far fewer than 1,000 REST calls', async () => {
    for (let n = 0; n < 1000; n++) {
      await send(
        asPortal('imconnector-message-update', (s) =>
          s.replace('ext-msg-005', `m-${n}`).replace('ts=1773760030', `ts=${1773760030 + n}`),
        ),
      );
    }
    gateway.start();
    while ((await gateway.store.countEvents()).done < 1001 || (await gateway.store.countStatuses()).sent < 1000)
      await new Promise((r) => setTimeout(r, 50));
    const statusCommands = commandsOf(sb, 'imconnector.send.status.delivery');
    const confirmedIds = statusCommands.flatMap((c) =>
      (Object.values(c.params.MESSAGES as object) as { message: { id: object } }[]).map(
        (m) => Object.values(m.message.id)[0],
      ),
    );
    console.log(
      `1,000 updates in one chat: ${requestsTo(sb).length} REST requests, ${statusCommands.length} status commands`,
    );
    expect(new Set(confirmedIds).size).toBe(1000);
    expect(requestsTo(sb).length).toBeLessThan(100);
  }, 120_000);

  it('a failing channel is retried on the schedule, ends as a dead letter, and replay brings it back', async () => {
    channel.fail(true);
    const id = await send(asPortal('imconnector-message-update'));
    await gateway.drain();
    expect(await gateway.store.getEvent(id)).toMatchObject({ status: 'retry', attempts: 1 });
    expect((await gateway.store.getEvent(id))?.lastError).toContain('answered 503');
    clock += 6_001;
    await gateway.drain();
    clock += 360_001;
    await gateway.drain();
    expect(await gateway.store.getEvent(id)).toMatchObject({ status: 'dead', attempts: 3 });
    expect(commandsOf(sb, 'imconnector.send.status.delivery')).toHaveLength(0);

    channel.fail(false);
    await gateway.store.requeue([id]);
    await gateway.drain();
    expect((await gateway.store.getEvent(id))?.status).toBe('done');
    expect(channel.deliveries).toHaveLength(1);
    expect(commandsOf(sb, 'imconnector.send.status.delivery')).toHaveLength(1);
  });

  it('a custom deliver function replaces the HTTP delivery, and its ids are confirmed to Bitrix24', async () => {
    await gateway.close();
    const seen: string[] = [];
    gateway = new Gateway({
      db: `${tmp.dir}/p.db`,
      allowDomains: ['127.0.0.1:*'],
      bitrix: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthServer: sb.url },
      channel: {
        format: 'html',
        deliver: async (payload) => {
          seen.push(`${payload.type}:${'message' in payload && 'text' in payload.message ? payload.message.text : ''}`);
          if (payload.type === 'message.created') return { externalIds: ['my-42'] };
        },
      },
    });
    await send(asPortal('imconnector-message-add'));
    await gateway.drain();
    expect(seen).toEqual(['message.created:<b>Klaus Weber:</b> <br>Guten Tag!']);
    const status = commandsOf(sb, 'imconnector.send.status.delivery')[0];
    expect(
      Object.values(status?.params.MESSAGES as object).map((m: { message: { id: object } }) =>
        Object.values(m.message.id),
      ),
    ).toEqual([['my-42']]);
  });
});
