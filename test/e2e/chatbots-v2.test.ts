import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callRest, startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { Gateway, imbotV2, parseFetched, startServer, type EventMap, type RunningServer } from '../../src/index.js';
import { asStored } from '../../src/events/testing/parse.js';
import { tempDir, until } from '../helpers.js';

// A Chatbots 2.0 bot in webhook mode, end to end over real sockets: the sandbox installs the
// application into an in-process gateway, the application registers its bot with
// imbot.v2.Bot.register, the sandbox posts ONIMBOTV2* as Bitrix24 would, the gateway verifies and
// stores them, and its handlers answer through imbot.v2.Chat.Message.send and Command.answer,
// which the sandbox records.

let sb: Sandbox;
let gateway: Gateway;
let server: RunningServer;
let tmp: ReturnType<typeof tempDir>;

beforeEach(async () => {
  tmp = tempDir();
  sb = await startSandbox({ clientId: 'local.bot.1', clientSecret: 'bot-secret-0123456789' });
  sb.faults.set({ rateLimit: false });
  gateway = new Gateway({
    db: `${tmp.dir}/bot.db`,
    allowDomains: [new URL(sb.url).host],
    bitrix: { clientId: sb.clientId, clientSecret: sb.clientSecret, oauthServer: sb.url },
    worker: { pollMs: 50, schedule: [50, 50] },
  });
  server = await startServer(gateway, { port: 0 });
});
afterEach(async () => {
  await server.close();
  await gateway.close();
  await sb.stop();
  tmp.cleanup();
});

/** Installs the application and registers its bot as the application's own code would, with the install's token. */
async function installWithBot(eventMode: 'webhook' | 'fetch'): Promise<{ botId: number; token: string }> {
  const install = await sb.install(sb.portal, `${server.url}/events`);
  expect(install.deliveries[0]?.status).toBe(200);
  const token = sb.issueTokens(sb.portal).access_token;
  const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
    auth: token,
    fields: {
      code: 'helper',
      properties: { name: 'Helper' },
      eventMode,
      ...(eventMode === 'webhook' ? { webhookUrl: `${server.url}/events` } : {}),
    },
  });
  expect(r.status).toBe(200);
  return { botId: r.body.result.bot.id as number, token };
}

describe('Chatbots 2.0 in webhook mode, through the gateway', () => {
  it('a conversation: each event verified, stored, handled, and answered through imbot.v2', async () => {
    // What the handlers saw, by chat: events of one chat run in order, chats in parallel.
    const seen = new Map<string, string[]>();
    const saw = (dialogId: string, what: string) => seen.set(dialogId, [...(seen.get(dialogId) ?? []), what]);
    const bots: (number | undefined)[] = [];
    gateway.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
      saw(event.data.chat.dialogId, `add:${event.data.message.text}`);
      bots.push(ctx.bot?.id);
      if (!/^[0-9a-f]+$/.test(String(ctx.bot?.auth.access_token))) throw new Error('the bot’s own auth is missing');
      await imbotV2(ctx).reply(event, `Received: ${event.data.message.text}`);
    });
    gateway.on('onImBotV2CommandAdd', async (event, ctx) => {
      saw(event.data.chat.dialogId, `command:${event.data.command.command} ${event.data.command.params ?? ''}`);
      if (!(await imbotV2(ctx).answer(event, 'Command executed'))) throw new Error('not answered');
    });
    gateway.on('ONIMBOTV2JOINCHAT', async (event, ctx) => {
      saw(event.data.dialogId, 'join');
      await imbotV2(ctx).send(event.data.dialogId, { message: 'Hello, team!', urlPreview: false });
    });
    for (const code of ['ONIMBOTV2MESSAGEUPDATE', 'ONIMBOTV2MESSAGEDELETE', 'ONIMBOTV2REACTIONCHANGE'] as const) {
      gateway.on(code, (event) => void saw(event.data.chat.dialogId, code.slice(9).toLowerCase()));
    }
    gateway.start();
    const { botId } = await installWithBot('webhook');

    const result = await sb.scenario('chatbot');
    expect(result.ok).toBe(true);
    expect(result.deliveries.map((d) => d.status)).toEqual(Array(7).fill(200));
    await until(() => [...seen.values()].flat().length === 7);
    await gateway.drain();

    const group = [...seen.keys()].find((k) => k.startsWith('chat'))!;
    expect(seen.get(group)).toEqual([
      'join',
      expect.stringMatching(/^add:\[USER=\d+\]Helper\[\/USER\] what is new\?$/),
    ]);
    expect(seen.get('1')).toEqual([
      'add:Hello',
      'messageupdate',
      'command:/help topic',
      'reactionchange',
      'messagedelete',
    ]);
    expect(bots).toEqual([botId, botId]);
    // The sandbox recorded the answers, as the bot.
    const sends = sb.recorder.calls({ method: 'imbot.v2.chat.message.send' });
    expect(
      sends.map((c) => [c.httpStatus, c.params.botId, (c.params.fields as { message: string }).message]).sort(),
    ).toEqual(
      [
        [200, botId, 'Hello, team!'],
        [200, botId, 'Received: Hello'],
        [200, botId, expect.stringMatching(/^Received: \[USER=/)],
      ].sort(),
    );
    expect(sb.recorder.calls({ method: 'imbot.v2.command.answer' })).toEqual([
      expect.objectContaining({ httpStatus: 200 }),
    ]);
    const texts = [...sb.portal.chatbots.messages.values()].filter((m) => m.authorId === botId).map((m) => m.text);
    expect(texts).toEqual(expect.arrayContaining(['Hello, team!', 'Received: Hello', 'Command executed']));
    // Every event done; none keeps a token.
    const events = await gateway.store.listEvents();
    expect(events.filter((e) => e.code.startsWith('ONIMBOTV2')).map((e) => e.status)).toEqual(Array(7).fill('done'));
    for (const e of events) expect(JSON.stringify(e.event)).not.toMatch(/"access_token":"[0-9a-f]/);
  });

  it('an answer that fails is retried; and the README’s v1 bot answers with imbot.message.add', async () => {
    let attempts = 0;
    gateway.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
      attempts++;
      await imbotV2(ctx).reply(event, 'Noted.');
    });
    gateway.on('ONIMBOTMESSAGEADD', async (event, ctx) => {
      await ctx.rest.call('imbot.message.add', {
        BOT_ID: ctx.bot?.id,
        DIALOG_ID: event.data.PARAMS.DIALOG_ID,
        MESSAGE: 'Noted.',
      });
    });
    gateway.start();
    const { botId, token } = await installWithBot('webhook');
    sb.faults.set({
      methodErrors: { 'imbot.v2.Chat.Message.send': { status: 500, error: 'SENDING_FAILED', times: 1 } },
    });
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'Hi' });
    await until(() => sb.recorder.calls({ method: 'imbot.v2.chat.message.send' }).some((c) => c.httpStatus === 200));
    expect(sb.recorder.calls({ method: 'imbot.v2.chat.message.send' }).map((c) => c.httpStatus)).toEqual([500, 200]);
    expect(attempts).toBe(2);

    // v1: registered with imbot.register, it gets ONIMBOTMESSAGEADD and answers in v1.
    const v1 = await callRest(sb.restUrl, 'imbot.register', {
      auth: token,
      CODE: 'old',
      TYPE: 'B',
      EVENT_HANDLER: `${server.url}/events`,
      PROPERTIES: { NAME: 'Old' },
    });
    await sb.act.bot(sb.portal, 'add', {
      bots: [{ id: v1.body.result as number, code: 'old' }],
      chatType: 'P',
      chatId: 1401,
      messageId: 84331,
      text: 'Hello',
    });
    await gateway.drain();
    await until(() => sb.recorder.calls({ method: 'imbot.message.add' }).length === 1);
    expect(sb.recorder.calls({ method: 'imbot.message.add' })[0]).toMatchObject({
      httpStatus: 200,
      params: { BOT_ID: v1.body.result, DIALOG_ID: '1' },
    });
  });
});

describe('the same event, pulled', () => {
  it('an Event.get item of the sandbox parses to the data its webhook gives, bot aside', async () => {
    const { botId: fetchBot, token } = await installWithBot('fetch');
    const hooked = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
      auth: token,
      fields: {
        code: 'hooked',
        properties: { name: 'Hooked' },
        eventMode: 'webhook',
        webhookUrl: `${server.url}/events`,
      },
    });
    const hookBot = hooked.body.result.bot.id as number;
    const chat = await sb.act.chatbot(sb.portal, { kind: 'join', botId: fetchBot, title: 'Both' });
    await sb.act.chatbot(sb.portal, { kind: 'join', botId: hookBot, chatId: chat.chatId });
    await sb.act.chatbot(sb.portal, {
      kind: 'write',
      botId: fetchBot,
      chatId: chat.chatId,
      text: 'to both',
      mention: false,
    });
    // Neither was mentioned: a plain `bot` sees nothing. Mention each in turn with one message each.
    sb.portal.chatbots.settings.get(fetchBot)!.type = 'supervisor';
    sb.portal.chatbots.settings.get(hookBot)!.type = 'supervisor';
    const w = await sb.act.chatbot(sb.portal, { kind: 'write', chatId: chat.chatId, text: 'seen by both' });
    const item = (
      await callRest(sb.restUrl, 'imbot.v2.Event.get', { auth: token, botId: fetchBot })
    ).body.result.events.at(-1);
    const pulled = parseFetched(item);
    expect(pulled).toMatchObject({ known: true, code: 'ONIMBOTV2MESSAGEADD' });
    await gateway.drain();
    const [posted] = (await gateway.store.listEvents()).filter((e) => e.code === 'ONIMBOTV2MESSAGEADD');
    const webhook = (await gateway.store.getEvent(posted!.id))!.event as EventMap['ONIMBOTV2MESSAGEADD'];
    const { bot: a, ...fromFetch } = asStored(pulled.data) as EventMap['ONIMBOTV2MESSAGEADD']['data'];
    const { bot: b, ...fromHook } = webhook.data;
    expect(fromFetch).toStrictEqual(fromHook);
    expect(fromHook.message).toMatchObject({ id: w.messageId, text: 'seen by both', isSystem: false });
    expect([a.id, a.eventMode, b.id]).toEqual([fetchBot, 'fetch', hookBot]);
  });
});
