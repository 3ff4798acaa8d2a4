import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeForm } from '../php/decode.js';
import { httpBuildQuery } from '../php/encode.js';
import { startCapture, startSandbox, type Capture, type Sandbox } from '../index.js';
import { callRest, control, frozenAt } from '../testing.js';

let sb: Sandbox;
let app: Capture;
let auth: string;
const call = (method: string, params: Record<string, unknown> = {}) =>
  callRest(sb.restUrl, method, { auth, ...params });
type Form = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function register(fields: Record<string, unknown>): Promise<number> {
  const r = await call('imbot.v2.Bot.register', { fields: { properties: { name: 'Helper' }, ...fields } });
  expect(r.status).toBe(200);
  return r.body.result.bot.id as number;
}

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt() });
  sb.faults.set({ rateLimit: false });
  auth = sb.issueTokens(sb.portal).access_token;
  app = await startCapture();
});
afterEach(async () => {
  await sb.stop();
  await app.close();
});

describe('webhook mode', () => {
  it('posts http_build_query bodies: data[bot] is {id, code, auth} with the bot’s own working tokens, verified by the top-level auth', async () => {
    const botId = await register({ code: 'hook_bot', eventMode: 'webhook', webhookUrl: `${app.url}/bot` });
    const out = await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'Hello bot!' });
    expect(out.ok).toBe(true);
    const [req] = await app.waitFor(1);
    const [delivery] = sb.recorder.deliveries({ code: 'ONIMBOTV2MESSAGEADD' });
    // Byte for byte what PHP's http_build_query makes of the payload (the encoder is checked against PHP's own bodies).
    expect(req!.text).toBe(httpBuildQuery(delivery!.payload));
    expect(req!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const body = decodeForm(req!.text).params as Form;
    expect(body.event).toBe('ONIMBOTV2MESSAGEADD');
    expect(Object.keys(body.data.bot)).toEqual(['id', 'code', 'auth']);
    expect(body.data.bot).toMatchObject({ id: String(botId), code: 'hook_bot' });
    expect(body.data.message).toMatchObject({ text: 'Hello bot!', isSystem: '0', viewedByOthers: '0', authorId: '1' });
    // Nulls and empty objects are left out, as PHP leaves them.
    expect(body.data.message).not.toHaveProperty('forward');
    expect(body.data.message).not.toHaveProperty('params');
    expect(body.data.chat).toMatchObject({ dialogId: '1', type: 'private' });
    expect(body.data.user).toMatchObject({ id: '1', active: '1', idle: '0', bot: '0', departments: ['1'] });
    expect(body.auth).toMatchObject({ member_id: sb.portal.memberId, application_token: sb.portal.applicationToken });
    // The bot's auth is a real pair for the bot user.
    expect(body.data.bot.auth).toMatchObject({ user_id: String(botId), member_id: sb.portal.memberId, scope: 'imbot' });
    const reply = await callRest(sb.restUrl, 'imbot.v2.Chat.Message.send', {
      auth: body.data.bot.auth.access_token,
      botId,
      dialogId: body.data.chat.dialogId,
      fields: { message: 'Hi!' },
    });
    expect(reply.status).toBe(200);
  });

  it('a bot registered with a botToken signs its webhooks with an application token of its own', async () => {
    const hook = sb.addWebhook(sb.portal);
    const res = await fetch(`${hook.url}imbot.v2.Bot.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        botToken: 'secret-1',
        fields: { code: 'local', properties: { name: 'Local' }, eventMode: 'webhook', webhookUrl: app.url },
      }),
    });
    const botId = ((await res.json()) as { result: { bot: { id: number } } }).result.bot.id;
    await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'x' });
    const [req] = await app.waitFor(1);
    const token = (decodeForm(req!.text).params as Form).auth.application_token as string;
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(token).not.toBe(sb.portal.applicationToken);
  });

  it('events go to the bots a message is addressed to, in the version each registered with', async () => {
    const mentioned = await register({ code: 'mentioned', eventMode: 'webhook', webhookUrl: `${app.url}/m` });
    const quiet = await register({ code: 'quiet', eventMode: 'webhook', webhookUrl: `${app.url}/q` });
    const supervisor = await register({
      code: 'super',
      type: 'supervisor',
      eventMode: 'webhook',
      webhookUrl: `${app.url}/s`,
    });
    await call('imbot.register', {
      CODE: 'v1',
      TYPE: 'S',
      EVENT_HANDLER: `${app.url}/v1`,
      PROPERTIES: { NAME: 'Old' },
    });
    const v1 = [...sb.portal.bots.values()].find((b) => b.code === 'v1')!.id;
    const joined = await sb.act.chatbot(sb.portal, { kind: 'join', botId: mentioned, title: 'Team' });
    for (const botId of [quiet, supervisor])
      await sb.act.chatbot(sb.portal, { kind: 'join', botId, chatId: joined.chatId });
    sb.portal.chatbots.chats.get(joined.chatId)!.members.add(v1);
    sb.recorder.clear();
    await sb.act.chatbot(sb.portal, { kind: 'write', botId: mentioned, chatId: joined.chatId, text: 'ping' });
    const adds = sb.recorder.deliveries({ code: 'ONIMBOTV2MESSAGEADD' });
    expect(adds.map((d) => d.url).sort()).toEqual([`${app.url}/m`, `${app.url}/s`]);
    expect((adds[0]!.payload.data as Form).message.text).toBe(`[USER=${mentioned}]Helper[/USER] ping`);
    // The v1 bot got nothing in v2 (nor in v1: this action speaks v2).
    expect(sb.recorder.deliveries().filter((d) => d.url.endsWith('/v1'))).toEqual([]);
  });
});

describe('fetch mode', () => {
  it('queues each event with the full bot object and native types, for imbot.v2.Event.get', async () => {
    const botId = await register({ code: 'fetch_bot' });
    const w = await sb.act.chatbot(sb.portal, { kind: 'write', botId, text: 'Hello' });
    expect(w.results).toEqual([
      { code: 'ONIMBOTV2MESSAGEADD', ok: true, deliveries: [], queued: [{ eventId: expect.any(Number), botId }] },
    ]);
    expect(sb.recorder.deliveries()).toEqual([]);
    const page = (await call('imbot.v2.Event.get', { botId })).body.result;
    expect(page.events[0]).toMatchObject({
      type: 'ONIMBOTV2MESSAGEADD',
      data: {
        bot: {
          id: botId,
          code: 'fetch_bot',
          type: 'bot',
          isHidden: false,
          eventMode: 'fetch',
          countChat: 1,
          countUser: 1,
        },
        message: {
          id: w.messageId,
          chatId: w.chatId,
          authorId: 1,
          text: 'Hello',
          isSystem: false,
          forward: null,
          params: {},
        },
        chat: { id: w.chatId, dialogId: '1', type: 'private' },
        user: { id: 1, active: true, idle: false, departments: [1] },
        language: 'en',
      },
    });
    expect(page.events[0].data.bot).not.toHaveProperty('auth');
  });
});

describe('the chatbot scenario', () => {
  const codes = [
    'ONIMBOTV2JOINCHAT',
    'ONIMBOTV2MESSAGEADD',
    'ONIMBOTV2MESSAGEUPDATE',
    'ONIMBOTV2COMMANDADD',
    'ONIMBOTV2REACTIONCHANGE',
    'ONIMBOTV2MESSAGEADD',
    'ONIMBOTV2MESSAGEDELETE',
  ];

  it('webhook mode: message, edit, command, reaction, mention, deletion posted in order', async () => {
    const r = await sb.scenario('chatbot', { handlerUrl: app.url });
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => [s.step, s.skipped ?? false])).toEqual([
      ['added to a group chat', false],
      ['private message', false],
      ['message edited', false],
      ['slash command', false],
      ['reaction to the bot', false],
      ['mentioned in the group', false],
      ['private message deleted', false],
    ]);
    expect(r.deliveries.map((d) => d.code)).toEqual(codes);
    expect((await app.waitFor(7)).map((q) => (decodeForm(q.text).params as Form).event)).toEqual(codes);
  });

  it('fetch mode, over the control API, with faults: the queue holds the same conversation and Event.get meets the fault first', async () => {
    const started = await control(sb.url, '/sandbox/scenario', {
      name: 'chatbot',
      mode: 'fetch',
      faults: { methodErrors: { 'imbot.v2.Event.get': { status: 503, error: 'QUERY_LIMIT_EXCEEDED', times: 1 } } },
    });
    expect(started.status).toBe(200);
    expect(started.body.steps.every((s: { result: { queued: unknown[] } }) => s.result.queued.length > 0)).toBe(true);
    const botId = [...sb.portal.chatbots.settings.entries()].find(([, s]) => s.version === 2)![0];
    expect((await call('imbot.v2.Event.get', { botId })).status).toBe(503);
    const page = (await call('imbot.v2.Event.get', { botId })).body.result;
    expect(page.events.map((e: { type: string }) => e.type)).toEqual(codes);
    expect(page.hasMore).toBe(false);
    const command = page.events[3].data;
    expect(command).toMatchObject({
      command: { command: '/help', params: 'topic', context: 'textarea' },
      message: { text: '/help topic' },
    });
    // Answering the command as the docs' bot would.
    const answered = await call('imbot.v2.Command.answer', {
      botId,
      commandId: command.command.id,
      messageId: command.message.id,
      dialogId: command.chat.dialogId,
      fields: { message: 'Help' },
    });
    expect(answered.body.result).toEqual({ result: true });
  });

  it('the control API plays single actions and makes incoming webhooks', async () => {
    const botId = await register({ code: 'c' });
    const hook = await control(sb.url, '/sandbox/webhooks', { userId: 1 });
    expect(hook.body).toMatchObject({ userId: 1, url: expect.stringMatching(/\/rest\/1\/[0-9a-f]+\/$/) });
    const w = await control(sb.url, '/sandbox/act/chatbot', { kind: 'write', botId, text: 'over http' });
    expect(w.body).toMatchObject({ kind: 'write', ok: true, messageId: expect.any(Number) });
    const bad = await control(sb.url, '/sandbox/act/chatbot', { kind: 'write', text: 'nobody' });
    expect(bad).toMatchObject({ status: 400, body: { error: 'B24SB_BAD_REQUEST' } });
    const state = await control(sb.url, '/sandbox/state');
    expect(state.body.chatbots.bots).toEqual([
      expect.objectContaining({ id: botId, eventMode: 'fetch', queued: 1, owner: 'app' }),
    ]);
  });
});
