import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCapture, startSandbox, type Capture, type Sandbox } from '../index.js';
import { callRest, frozenAt } from '../testing.js';

let sb: Sandbox;
let auth: string;
let hookUrl: string;
const call = (method: string, params: Record<string, unknown> = {}, format?: 'json' | 'form' | 'query') =>
  callRest(sb.restUrl, method, { auth, ...params }, format);
/** A call through the portal's incoming webhook (no OAuth token; imbot.v2 then needs botToken). */
const hook = async (method: string, params: Record<string, unknown> = {}) => {
  const res = await fetch(`${hookUrl}${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
};
const refused = async (p: Promise<{ status: number; body: { error?: string } }>, error: string, status = 400) => {
  const r = await p;
  expect(r.body.error).toBe(error);
  expect(r.status).toBe(status);
};

const fields = (extra: Record<string, unknown> = {}) => ({
  code: 'support_bot',
  properties: { name: 'Support Bot', workPosition: 'AI Assistant' },
  ...extra,
});
async function register(extra: Record<string, unknown> = {}): Promise<number> {
  const r = await call('imbot.v2.Bot.register', { fields: fields(extra) });
  expect(r.status).toBe(200);
  return r.body.result.bot.id as number;
}

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt(), portal: { scope: 'imbot,im,imconnector' } });
  sb.faults.set({ rateLimit: false });
  auth = sb.issueTokens(sb.portal).access_token;
  hookUrl = sb.addWebhook(sb.portal).url;
});
afterEach(() => sb.stop());

describe('imbot.v2.Bot.register', () => {
  it('registers a fetch bot by default, answering the extended bot and its user; again with the same code, the same bot unchanged', async () => {
    const r = await call('imbot.v2.Bot.register', { fields: fields({ isHidden: 'Y', backgroundId: 'nonsense' }) });
    expect(r.body.result.bot).toEqual({
      id: expect.any(Number),
      code: 'support_bot',
      type: 'bot',
      isHidden: true,
      isSupportOpenline: false,
      isReactionsEnabled: true,
      backgroundId: null,
      language: 'en',
      moduleId: 'rest',
      eventMode: 'fetch',
      countMessage: 0,
      countCommand: 0,
      countChat: 0,
      countUser: 0,
    });
    expect(r.body.result.users).toEqual([
      expect.objectContaining({
        id: r.body.result.bot.id,
        name: 'Support Bot',
        bot: true,
        type: 'bot',
        workPosition: 'AI Assistant',
      }),
    ]);
    const again = await call('imbot.v2.Bot.register', {
      fields: fields({ properties: { name: 'Renamed' }, eventMode: 'webhook', webhookUrl: 'https://x.example/' }),
    });
    expect(again.body.result.bot).toMatchObject({ id: r.body.result.bot.id, eventMode: 'fetch' });
    expect(again.body.result.users[0].name).toBe('Support Bot');
    // A fetch bot has no subscriptions.
    expect(sb.portal.handlers).toEqual([]);
  });

  it('a webhook bot is subscribed to the eight ONIMBOTV2 events at its URL', async () => {
    const id = await register({ eventMode: 'webhook', webhookUrl: 'https://bot.example/events' });
    expect(sb.portal.handlers.map((h) => [h.event, h.handler, h.botId])).toEqual(
      [
        'MESSAGEADD',
        'MESSAGEUPDATE',
        'MESSAGEDELETE',
        'JOINCHAT',
        'DELETE',
        'CONTEXTGET',
        'COMMANDADD',
        'REACTIONCHANGE',
      ].map((e) => [`ONIMBOTV2${e}`, 'https://bot.example/events', id]),
    );
  });

  it('answers the documented errors', async () => {
    const r = (f: Record<string, unknown>) => call('imbot.v2.Bot.register', { fields: f });
    await refused(r({ properties: { name: 'x' } }), 'BOT_CODE_REQUIRED');
    await refused(r({ code: 'a' }), 'BOT_PROPERTIES_REQUIRED');
    await refused(r({ code: 'a', properties: { lastName: 'x' } }), 'BOT_PROPERTIES_REQUIRED');
    await refused(r(fields({ type: 'robot' })), 'BOT_INVALID_TYPE');
    await refused(r(fields({ eventMode: 'push' })), 'BOT_INVALID_EVENT_MODE');
    await refused(r(fields({ eventMode: 'webhook' })), 'BOT_WEBHOOK_URL_REQUIRED');
    await refused(r(fields({ eventMode: 'webhook', webhookUrl: 'ftp://x' })), 'BOT_INVALID_CALLBACK');
    await refused(
      r(fields({ properties: { name: 'a', avatar: Buffer.from('not an image').toString('base64') } })),
      'BOT_AVATAR_INCORRECT_TYPE',
    );
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).toString('base64');
    expect((await r(fields({ properties: { name: 'a', avatar: png } }))).status).toBe(200);
    // Through an incoming webhook: a botToken is required, and a code an application holds is taken.
    await refused(hook('imbot.v2.Bot.register', { fields: fields() }), 'BOT_TOKEN_NOT_SPECIFIED');
    await refused(hook('imbot.v2.Bot.register', { botToken: 'tok-1', fields: fields() }), 'BOT_CODE_ALREADY_TAKEN');
    expect(sb.portal.bots.size).toBe(1);
  });

  it('a botToken longer than 40 characters is accepted until 06.08.2026 and refused from then (BOT-BC-0506-1)', async () => {
    const long = 'x'.repeat(64);
    expect((await hook('imbot.v2.Bot.register', { fields: fields({ code: 'long1', botToken: long }) })).status).toBe(
      200,
    );
    sb.clock.advance(Date.UTC(2026, 7, 6) - sb.clock.now());
    await refused(
      hook('imbot.v2.Bot.register', { fields: fields({ code: 'long2', botToken: long }) }),
      'BOT_TOKEN_INVALID_LENGTH',
    );
    expect(
      (await hook('imbot.v2.Bot.register', { fields: fields({ code: 'short', botToken: 'y'.repeat(40) }) })).status,
    ).toBe(200);
  });

  it('at most 100 bots per application', async () => {
    for (let i = 0; i < 100; i++) await register({ code: `bot${i}` });
    await refused(call('imbot.v2.Bot.register', { fields: fields({ code: 'bot100' }) }), 'BOT_LIMIT_EXCEEDED');
  });
});

describe('imbot.v2.Bot.update / get / list / unregister', () => {
  it('switching the mode and the URL rebuilds the subscriptions', async () => {
    const botId = await register();
    const update = (f: Record<string, unknown>) => call('imbot.v2.Bot.update', { botId, fields: f });
    await refused(update({ eventMode: 'webhook' }), 'BOT_INVALID_CALLBACK');
    await refused(update({ eventMode: 'push' }), 'BOT_INVALID_EVENT_MODE');
    expect((await update({ eventMode: 'webhook', webhookUrl: 'https://a.example/' })).body.result.bot.eventMode).toBe(
      'webhook',
    );
    expect(new Set(sb.portal.handlers.map((h) => h.handler))).toEqual(new Set(['https://a.example/']));
    await update({ webhookUrl: 'https://b.example/' });
    expect(sb.portal.handlers.map((h) => h.handler)).toEqual(Array(8).fill('https://b.example/'));
    const r = await update({ eventMode: 'fetch', properties: { name: 'New name' }, isReactionsEnabled: false });
    expect(r.body.result.bot).toMatchObject({ eventMode: 'fetch', isReactionsEnabled: false });
    expect(r.body.result.users[0].name).toBe('New name');
    expect(sb.portal.handlers).toEqual([]);
    await refused(call('imbot.v2.Bot.update', { fields: {} }), 'BOT_ID_REQUIRED');
    await refused(call('imbot.v2.Bot.update', { botId: 99999, fields: {} }), 'BOT_NOT_FOUND');
  });

  it('botToken rotation: the old token loses access at once; a taken or long token fails alike', async () => {
    const a = await hook('imbot.v2.Bot.register', { botToken: 'old-token', fields: fields({ code: 'a' }) });
    const botId = a.body.result.bot.id as number;
    await hook('imbot.v2.Bot.register', { botToken: 'other-token', fields: fields({ code: 'b' }) });
    await refused(
      hook('imbot.v2.Bot.update', { botId, botToken: 'old-token', fields: { botToken: 'other-token' } }),
      'BOT_TOKEN_ROTATION_FAILED',
    );
    await refused(
      hook('imbot.v2.Bot.update', { botId, botToken: 'old-token', fields: { botToken: 'z'.repeat(41) } }),
      'BOT_TOKEN_ROTATION_FAILED',
    );
    expect(
      (await hook('imbot.v2.Bot.update', { botId, botToken: 'old-token', fields: { botToken: 'new-token' } })).status,
    ).toBe(200);
    await refused(hook('imbot.v2.Event.get', { botId, botToken: 'old-token' }), 'BOT_OWNERSHIP_ERROR', 403);
    expect((await hook('imbot.v2.Event.get', { botId, botToken: 'new-token' })).status).toBe(200);
    // The application may not act on a botToken bot, nor the webhook on the application's.
    await refused(call('imbot.v2.Event.get', { botId }), 'BOT_OWNERSHIP_ERROR', 403);
    const appBot = await register({ code: 'app_bot' });
    await refused(hook('imbot.v2.Event.get', { botId: appBot, botToken: 'new-token' }), 'BOT_OWNERSHIP_ERROR', 403);
    await refused(hook('imbot.v2.Event.get', { botId }), 'BOT_TOKEN_NOT_SPECIFIED');
  });

  it('get by id or code, extended for the owner and brief for others; list the caller’s bots with paging', async () => {
    const botId = await register({ type: 'supervisor' });
    await register({ code: 'second' });
    await hook('imbot.v2.Bot.register', { botToken: 't', fields: fields({ code: 'hooked' }) });
    expect((await call('imbot.v2.Bot.get', { code: 'support_bot' })).body.result.bot).toMatchObject({
      id: botId,
      type: 'supervisor',
      eventMode: 'fetch',
    });
    expect((await call('imbot.v2.Bot.get', { botId })).body.result.bot.id).toBe(botId);
    const brief = (await call('imbot.v2.Bot.get', { code: 'hooked' })).body.result.bot;
    expect(brief).not.toHaveProperty('eventMode');
    await refused(call('imbot.v2.Bot.get', {}), 'PARAMS_REQUIRED');
    await refused(call('imbot.v2.Bot.get', { code: 'nobody' }), 'BOT_NOT_FOUND');
    const page1 = (await call('imbot.v2.Bot.list', { limit: 1 })).body.result;
    expect(page1.bots.map((b: { code: string }) => b.code)).toEqual(['support_bot']);
    expect(page1.hasNextPage).toBe(true);
    const page2 = (await call('imbot.v2.Bot.list', { limit: 1, offset: 1 })).body.result;
    expect(page2).toMatchObject({ bots: [{ code: 'second' }], hasNextPage: false });
    expect((await call('imbot.v2.Bot.list', { filter: { type: 'supervisor' } })).body.result.bots).toHaveLength(1);
    expect((await call('imbot.v2.Bot.list', { filter: { type: 'unknown' } })).body.result.bots).toEqual([]);
    expect(
      (await hook('imbot.v2.Bot.list', { botToken: 't' })).body.result.bots.map((b: { code: string }) => b.code),
    ).toEqual(['hooked']);
    await refused(hook('imbot.v2.Bot.list'), 'BOT_TOKEN_NOT_SPECIFIED');
  });

  it('a v1 bot is visible in v2', async () => {
    await call('imbot.register', {
      CODE: 'v1bot',
      TYPE: 'B',
      EVENT_HANDLER: 'https://v1.example/',
      PROPERTIES: { NAME: 'Old Bot' },
    });
    expect((await call('imbot.v2.Bot.list')).body.result.bots).toEqual([
      expect.objectContaining({ code: 'v1bot', eventMode: 'webhook' }),
    ]);
  });

  describe('unregister', () => {
    let capture: Capture;
    beforeEach(async () => {
      capture = await startCapture();
    });
    afterEach(() => capture.close());

    it('a webhook bot gets ONIMBOTV2DELETE as its last event, then its subscriptions are gone', async () => {
      const botId = await register({ eventMode: 'webhook', webhookUrl: capture.url });
      expect((await call('imbot.v2.Bot.unregister', { botId })).body.result).toEqual({ result: true });
      expect(sb.recorder.deliveries().map((d) => [d.code, d.url])).toEqual([['ONIMBOTV2DELETE', capture.url]]);
      expect(sb.portal.handlers).toEqual([]);
      await refused(call('imbot.v2.Bot.get', { botId }), 'BOT_NOT_FOUND');
      await refused(call('imbot.v2.Bot.unregister', { botId }), 'BOT_NOT_FOUND');
    });

    it('a fetch bot’s ONIMBOTV2DELETE waits in its queue, readable until confirmed', async () => {
      const botId = await register();
      await call('imbot.v2.Bot.unregister', { botId });
      await refused(call('imbot.v2.Bot.get', { botId }), 'BOT_NOT_FOUND');
      const page = (await call('imbot.v2.Event.get', { botId })).body.result;
      expect(page.events.map((e: { type: string }) => e.type)).toEqual(['ONIMBOTV2DELETE']);
      expect((await call('imbot.v2.Event.get', { botId, offset: page.nextOffset })).body.result.events).toEqual([]);
      await refused(call('imbot.v2.Event.get', { botId }), 'BOT_NOT_FOUND');
    });
  });
});

describe('imbot.v2.Chat.Message.* and Command.*', () => {
  it('send, update, delete as the bot, in dialogs it is in', async () => {
    const botId = await register();
    const send = (p: Record<string, unknown>) => call('imbot.v2.Chat.Message.send', { botId, ...p });
    // A private dialog with a user is made on first use; a group chat the bot is not in is refused.
    const sent = await send({ dialogId: '1', fields: { message: 'Hello', keyboard: [{ TEXT: 'Open' }] } });
    expect(sent.body.result).toEqual({ id: expect.any(Number), uuidMap: {} });
    await refused(send({ dialogId: 'chat4999', fields: { message: 'x' } }), 'ACCESS_DENIED', 403);
    await refused(send({ fields: { message: 'x' } }), 'ACCESS_DENIED', 403);
    await refused(send({ dialogId: '1', fields: { message: '  ' } }), 'EMPTY_MESSAGE');
    const id = sent.body.result.id as number;
    const long = await send({ dialogId: '1', fields: { message: 'a'.repeat(20_001) } });
    expect(sb.portal.chatbots.messages.get(long.body.result.id)!.text).toBe(`${'a'.repeat(20_000)} (...)`);
    // Forwarding: uuidMap gives each copy's id.
    const fwd = await send({ dialogId: '1', fields: { forwardIds: { 'u-1': id } } });
    expect(fwd.body.result.uuidMap).toEqual({ 'u-1': expect.any(Number) });

    expect(
      (await call('imbot.v2.Chat.Message.update', { botId, messageId: id, fields: { message: 'Edited' } })).body.result,
    ).toEqual({ result: true });
    expect(sb.portal.chatbots.messages.get(id)).toMatchObject({
      text: 'Edited',
      params: { KEYBOARD: [{ TEXT: 'Open' }] },
    });
    const system = await send({ dialogId: '1', fields: { message: 'notice', system: true } });
    await refused(
      call('imbot.v2.Chat.Message.update', { botId, messageId: system.body.result.id, fields: { message: 'x' } }),
      'ACCESS_DENIED',
      403,
    );
    const user = await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'mine' });
    await refused(
      call('imbot.v2.Chat.Message.update', { botId, messageId: user.messageId, fields: { message: 'x' } }),
      'ACCESS_DENIED',
      403,
    );
    await refused(call('imbot.v2.Chat.Message.delete', { botId, messageId: user.messageId }), 'ACCESS_DENIED', 403);
    expect((await call('imbot.v2.Chat.Message.delete', { botId, messageId: id })).body.result).toEqual({
      result: true,
    });
    expect(sb.portal.chatbots.messages.get(id)!.deleted).toBe(true);
    await refused(call('imbot.v2.Chat.Message.delete', { botId, messageId: id }), 'ACCESS_DENIED', 403);
    // The documented controller errors come first.
    await refused(call('imbot.v2.Chat.Message.send', { dialogId: '1', fields: { message: 'x' } }), 'BOT_ID_REQUIRED');
  });

  it('commands: registered idempotently (fields, or the legacy flat form), answered for a call only', async () => {
    const botId = await register();
    const reg = (p: Record<string, unknown>) => call('imbot.v2.Command.register', { botId, ...p });
    await refused(reg({ fields: { title: { en: 'x' } } }), 'COMMAND_REQUIRED');
    await refused(reg({ fields: { command: ['help'], title: { en: 'x' } } }), 'COMMAND_NAME_INVALID');
    await refused(reg({ fields: { command: 'help' } }), 'COMMAND_TITLE_REQUIRED');
    expect((await reg({ fields: { command: 'secret', hidden: true } })).status).toBe(200);
    const made = (await reg({ fields: { command: 'help', title: { en: 'Help' }, params: { en: 'query' } } })).body
      .result.command;
    expect(made).toEqual({
      id: expect.any(Number),
      botId,
      command: '/help',
      common: false,
      hidden: false,
      extranetSupport: false,
    });
    expect((await reg({ command: 'help', title: { en: 'Other' } })).body.result.command.id).toBe(made.id);

    const called = await sb.act.chatbot(sb.portal, { kind: 'command', botId, command: 'help', params: 'topic' });
    const answer = (p: Record<string, unknown>) =>
      call('imbot.v2.Command.answer', {
        botId,
        commandId: made.id,
        messageId: called.messageId,
        dialogId: '1',
        fields: { message: 'Here is help' },
        ...p,
      });
    await refused(answer({ messageId: 1 }), 'COMMAND_ANSWER_FAILED');
    await refused(answer({ dialogId: 'chat1' }), 'COMMAND_ANSWER_FAILED');
    await refused(answer({ fields: { message: '' } }), 'COMMAND_ANSWER_FAILED');
    expect((await answer({})).body.result).toEqual({ result: true });
    expect([...sb.portal.chatbots.messages.values()].at(-1)).toMatchObject({
      authorId: botId,
      text: 'Here is help',
      system: false,
    });
  });
});

describe('imbot.v2.Event.get', () => {
  it('offset confirms, limit bounds (1–1000, default 100), hasMore says what is left', async () => {
    const botId = await register();
    for (let i = 0; i < 1205; i++) await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: `m${i}` });
    const get = async (p: Record<string, unknown>) =>
      (await call('imbot.v2.Event.get', { botId, ...p })).body.result as {
        events: { eventId: number; type: string; data: { message: { text: string } } }[];
        nextOffset: number;
        hasMore: boolean;
      };
    const first = await get({});
    expect(first.events).toHaveLength(100);
    expect(first.hasMore).toBe(true);
    expect(first.nextOffset).toBe(first.events.at(-1)!.eventId + 1);
    expect(first.events[0]).toMatchObject({
      type: 'ONIMBOTV2MESSAGEADD',
      data: { message: { text: 'm0' } },
      date: expect.any(String),
    });
    // Not confirmed: the same events again.
    expect((await get({})).events.map((e) => e.eventId)).toEqual(first.events.map((e) => e.eventId));
    expect((await get({ limit: 0 })).events).toHaveLength(1);
    expect((await get({ limit: 'many' })).events).toHaveLength(100);
    const big = await get({ offset: first.nextOffset, limit: 5000 });
    expect(big.events).toHaveLength(1000);
    expect(big.events[0]!.data.message.text).toBe('m100');
    expect(big.hasMore).toBe(true);
    const rest = await get({ offset: big.nextOffset, limit: 1000 });
    expect(rest.events.map((e) => e.data.message.text)).toEqual(Array.from({ length: 105 }, (_, i) => `m${1100 + i}`));
    expect(rest.hasMore).toBe(false);
    const empty = await get({ offset: rest.nextOffset });
    expect(empty).toEqual({ events: [], nextOffset: rest.nextOffset, hasMore: false });
    // The ids keep increasing after a drain; an event queued now is the next one handed out.
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'later' });
    const later = await get({ offset: empty.nextOffset });
    expect(later.events.map((e) => [e.eventId, e.data.message.text])).toEqual([[empty.nextOffset, 'later']]);
  });

  it('withUserEvents: the im scope and a subscription are required; one offset confirms both queues', async () => {
    const botId = await register();
    await refused(call('imbot.v2.Event.get', { botId, withUserEvents: true }), 'USER_NOT_SUBSCRIBED');
    expect((await call('im.v2.Event.subscribe')).body.result).toBe(true);
    expect((await call('im.v2.Event.subscribe')).body.result).toBe(true);
    // User 1 (the token's) writes to the bot: one bot event, one user event.
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'hi' });
    const both = (await call('imbot.v2.Event.get', { botId, withUserEvents: 'Y' })).body.result;
    expect(both.events.map((e: { type: string }) => e.type)).toEqual(['ONIMBOTV2MESSAGEADD', 'ONIMV2MESSAGEADD']);
    await call('imbot.v2.Event.get', { botId, withUserEvents: true, offset: both.nextOffset });
    expect((await call('im.v2.Event.get')).body.result.events).toEqual([]);
    // Without `im`: SCOPE_ERROR.
    const scoped = sb.addWebhook(sb.portal, { scope: 'imbot' });
    const tokenBot = await fetch(`${scoped.url}imbot.v2.Bot.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ botToken: 'k', fields: fields({ code: 'k' }) }),
    }).then((r) => r.json() as Promise<{ result: { bot: { id: number } } }>);
    const res = await fetch(`${scoped.url}imbot.v2.Event.get`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ botId: tokenBot.result.bot.id, botToken: 'k', withUserEvents: true }),
    });
    expect(((await res.json()) as { error: string }).error).toBe('SCOPE_ERROR');
  });

  it('a form body works too (CRest, http_build_query)', async () => {
    const botId = await register();
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'x' });
    const r = await call('imbot.v2.Event.get', { botId, limit: 1 }, 'form');
    expect(r.body.result.events).toHaveLength(1);
  });
});

describe('im.v2.Event.*', () => {
  it('records a subscribed user’s events only; unsubscribing stops recording, not reading; 24 hours kept', async () => {
    const botId = await register();
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'before' });
    expect((await call('im.v2.Event.get')).body.result).toEqual({
      events: [],
      nextOffset: expect.any(Number),
      hasMore: false,
    });
    await call('im.v2.Event.subscribe');
    const w = await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'after' });
    await sb.act.chatbot(sb.portal, { kind: 'edit', messageId: w.messageId!, text: 'after (edited)' });
    await call('im.v2.Event.unsubscribe');
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'unrecorded' });
    const page = (await call('im.v2.Event.get', { limit: 1 })).body.result;
    expect(page.events.map((e: { type: string }) => e.type)).toEqual(['ONIMV2MESSAGEADD']);
    expect(page.events[0].data).toMatchObject({
      message: { text: 'after' },
      chat: { dialogId: String(botId) },
      user: { id: 1 },
    });
    expect(page.hasMore).toBe(true);
    // A day later what was not confirmed is gone.
    sb.clock.advance(24 * 3600_000 + 1000);
    auth = sb.issueTokens(sb.portal).access_token;
    expect((await call('im.v2.Event.get')).body.result.events).toEqual([]);
  });
});

describe('the v1 methods a v1 bot answers with', () => {
  it('imbot.message.add / update / delete, imbot.command.answer', async () => {
    const v1 = (
      await call('imbot.register', {
        CODE: 'v1bot',
        TYPE: 'B',
        EVENT_HANDLER: 'https://v1.example/',
        PROPERTIES: { NAME: 'Old Bot' },
      })
    ).body.result as number;
    await refused(call('imbot.message.add', { BOT_ID: 4242, DIALOG_ID: '1', MESSAGE: 'x' }), 'BOT_ID_ERROR');
    await refused(call('imbot.message.add', { BOT_ID: v1, MESSAGE: 'x' }), 'DIALOG_ID_EMPTY');
    await refused(call('imbot.message.add', { BOT_ID: v1, DIALOG_ID: '1', MESSAGE: '  ' }), 'MESSAGE_EMPTY');
    const id = (await call('imbot.message.add', { BOT_ID: v1, DIALOG_ID: 'chat1157', MESSAGE: ' Noted. ' }, 'form'))
      .body.result as number;
    expect(sb.portal.chatbots.messages.get(id)).toMatchObject({ authorId: v1, text: 'Noted.', chatId: 1157 });
    // Without BOT_ID: the application's first bot.
    expect((await call('imbot.message.add', { DIALOG_ID: '1', MESSAGE: 'hi' })).status).toBe(200);
    expect((await call('imbot.message.update', { BOT_ID: v1, MESSAGE_ID: id, MESSAGE: 'Changed' })).body.result).toBe(
      true,
    );
    expect(sb.portal.chatbots.messages.get(id)!.text).toBe('Changed');
    await refused(call('imbot.message.update', { BOT_ID: v1, MESSAGE: 'x' }), 'MESSAGE_ID_ERROR');
    await refused(call('imbot.message.update', { BOT_ID: v1, MESSAGE_ID: 1, MESSAGE: 'x' }), 'CANT_EDIT_MESSAGE');
    expect((await call('imbot.message.delete', { BOT_ID: v1, MESSAGE_ID: id })).body.result).toBe(true);
    expect(sb.portal.chatbots.messages.get(id)!.deleted).toBe(true);
    await refused(call('imbot.message.delete', { BOT_ID: v1, MESSAGE_ID: id }), 'CANT_EDIT_MESSAGE');

    const botId = await register();
    const cmd = (await call('imbot.v2.Command.register', { botId, fields: { command: 'help', title: { en: 'Help' } } }))
      .body.result.command;
    const called = await sb.act.chatbot(sb.portal, { kind: 'command', botId, command: 'help' });
    await refused(
      call('imbot.command.answer', { COMMAND_ID: 999, MESSAGE_ID: called.messageId, MESSAGE: 'x' }),
      'COMMAND_ID_ERROR',
    );
    await refused(call('imbot.command.answer', { COMMAND_ID: cmd.id, MESSAGE: 'x' }), 'MESSAGE_ID_ERROR');
    await refused(
      call('imbot.command.answer', { COMMAND_ID: cmd.id, MESSAGE_ID: called.messageId, MESSAGE: '' }),
      'MESSAGE_EMPTY',
    );
    expect(
      (
        await call('imbot.command.answer', {
          COMMAND: 'help',
          BOT_ID: botId,
          MESSAGE_ID: called.messageId,
          MESSAGE: 'Help text',
        })
      ).status,
    ).toBe(200);
  });
});
