import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Portal, Sandbox } from '@b24-im-gateway/sandbox';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  commandsOf,
  installPortal,
  requestsTo,
  startPortal,
} from '../../test/bitrix-sandbox.js';
import { tempDir } from '../../test/helpers.js';
import { generateSecret, sign } from '../effects/channel/sign.js';
import { Gateway } from '../gateway.js';
import { startServer, type RunningServer } from '../server/start.js';

// The customer's side against the sandbox: actions kept once, sent in waves of imconnector
// commands in order per chat, the state learning Bitrix24's ids, failures retried with their chat
// held back, dead letters replayed.

const LINE = 107;
const CONNECTOR = 'myconnector';

let tmp: ReturnType<typeof tempDir>;
let sb: Sandbox;
let portal: Portal;
let gateway: Gateway;
const secret = generateSecret();

const target = () => ({ portal: { memberId: portal.memberId }, connector: { id: CONNECTOR, line: LINE } });
const created = (chat: string, id: string, text: string, user = `u-${chat}`) => ({
  ...target(),
  type: 'message.created',
  chat: { externalId: chat },
  user: { externalId: user, name: 'Anna', email: 'anna@example.com' },
  message: { externalId: id, text },
});
/** An edit of message `id` in `chat`; `user` names its author (left out, the state finds it). */
const updated = (chat: string, id: string, text: string, user?: string) => ({
  ...target(),
  type: 'message.updated',
  chat: { externalId: chat },
  ...(user === undefined ? {} : { user: { externalId: user } }),
  message: { externalId: id, text },
});
/** A deletion of message `id` in `chat`. */
const deleted = (chat: string, id: string) => ({
  ...target(),
  type: 'message.deleted',
  chat: { externalId: chat },
  message: { externalId: id },
});
/** The messages customers wrote, as the sandbox holds them. */
const inbound = () => [...portal.messages.values()].filter((m) => m.direction === 'in');

function open(schedule: number[] = [5_000, 300_000]): Gateway {
  return new Gateway({
    db: `${tmp.dir}/c.db`,
    bitrix: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, oauthServer: sb.url },
    channel: { deliver: async () => ({}) },
    customers: { secret, sender: { gatherMs: 1 } },
    worker: { schedule },
  });
}

beforeEach(async () => {
  tmp = tempDir();
  ({ sb, portal } = await startPortal());
  portal.ensureConnector(CONNECTOR, LINE);
  gateway = open();
  await installPortal(gateway.store, portal, sb.issueTokens(portal));
});
afterEach(async () => {
  await gateway.close();
  await sb.stop();
  tmp.cleanup();
});

describe('a customer writes, edits, deletes, reads and renames', () => {
  it("a new message is kept once by the channel's message id, sent once, and its chat learned", async () => {
    const first = await gateway.fromChannel(created('chat-1', 'm-1', 'Where is my order?'));
    const again = await gateway.fromChannel(created('chat-1', 'm-1', 'Where is my order?'), { id: 'another-request' });
    expect(again).toEqual({ id: first.id, duplicate: true });
    await gateway.drain();

    expect(inbound().map((m) => [m.text, m.externalIds])).toEqual([['Where is my order?', ['m-1']]]);
    const call = commandsOf(sb, 'imconnector.send.messages')[0]!;
    expect(call.params).toMatchObject({
      CONNECTOR,
      LINE,
      MESSAGES: [
        {
          user: { id: 'u-chat-1', name: 'Anna', email: 'anna@example.com' },
          message: { id: 'm-1', text: 'Where is my order?' },
          chat: { id: 'chat-1' },
        },
      ],
    });
    const chat = [...portal.chats.values()][0]!;
    const view = await gateway.state!.customerMessage(portal.memberId, LINE, 'chat-1', 'm-1');
    expect(view).toMatchObject({
      externalUserId: 'u-chat-1',
      imChatId: chat.id,
      sessionId: chat.sessionId,
      imUserId: chat.userId,
      text: 'Where is my order?',
    });
    expect((await gateway.state!.chat(portal.memberId, LINE, 'chat-1'))?.imChatId).toBe(chat.id);
    expect(await gateway.store.countCustomerActions()).toEqual({ pending: 0, sent: 1, dead: 0 });
  });

  it("one chat's create, edit and delete reach Bitrix24 in order; the edit finds its author in the state", async () => {
    await gateway.fromChannel(created('chat-1', 'm-1', 'Hello'));
    await gateway.fromChannel(updated('chat-1', 'm-1', 'Hello there'));
    await gateway.fromChannel(deleted('chat-1', 'm-1'));
    await gateway.drain();

    const methods = commandsOf(sb)
      .map((c) => c.method)
      .filter((m) => m.startsWith('imconnector.'));
    expect(methods).toEqual([
      'imconnector.send.messages',
      'imconnector.update.messages',
      'imconnector.delete.messages',
    ]);
    expect(commandsOf(sb, 'imconnector.update.messages')[0]!.params).toMatchObject({
      MESSAGES: [{ user: { id: 'u-chat-1' }, message: { id: 'm-1', text: 'Hello there' } }],
    });
    const [m] = inbound();
    expect(m).toMatchObject({ text: 'Hello there', deleted: true });
    expect(await gateway.state!.customerMessage(portal.memberId, LINE, 'chat-1', 'm-1')).toMatchObject({
      text: 'Hello there',
      originalText: 'Hello',
      deleted: true,
    });
  });

  it("many chats' new messages share one command: 60 messages of 30 chats in one request", async () => {
    for (let i = 0; i < 60; i++) await gateway.fromChannel(created(`chat-${i % 30}`, `m-${i}`, `text ${i}`));
    await gateway.drain();
    expect(inbound()).toHaveLength(60);
    const requests = requestsTo(sb).filter((c) => c.method.startsWith('imconnector.') || c.method === 'batch');
    expect(requests).toHaveLength(1);
    // Each chat's two messages in the order they came.
    for (let c = 0; c < 30; c++) {
      const texts = inbound()
        .filter((m) => portal.chats.get(m.chatId)!.externalChatId === `chat-${c}`)
        .map((m) => m.text);
      expect(texts).toEqual([`text ${c}`, `text ${c + 30}`]);
    }
  });

  it("a chat's read and rename go with its messages: send.status.reading names the delivered ids, chat.name.set the chat", async () => {
    // An operator's message the channel took under its own id (what the worker records on delivery).
    await gateway.fromChannel(created('chat-1', 'm-1', 'Hi'));
    await gateway.drain();
    // The conversation is ordered by time; within one millisecond each side keeps its own order.
    await new Promise((r) => setTimeout(r, 2));
    const chat = [...portal.chats.values()][0]!;
    const operator = portal.addMessage(chat, { direction: 'out', authorId: 1, text: 'Hello Anna' });
    await gateway.state!.apply(
      {
        event: 'ONIMCONNECTORMESSAGEADD',
        data: {
          CONNECTOR,
          LINE,
          MESSAGES: [
            {
              im: { chat_id: chat.id, message_id: operator.id },
              message: { text: 'Hello Anna' },
              chat: { id: 'chat-1' },
            },
          ],
        },
      },
      { eventId: 1, memberId: portal.memberId, receivedAt: Date.now() },
    );
    await gateway.state!.recordDelivered(portal.memberId, [
      { line: LINE, imMessageId: operator.id, externalIds: ['ch-77'] },
    ]);

    await gateway.fromChannel({
      ...target(),
      type: 'message.read',
      chat: { externalId: 'chat-1' },
      messages: [{ externalId: 'ch-77' }],
    });
    await gateway.fromChannel({
      ...target(),
      type: 'chat.renamed',
      chat: { externalId: 'chat-1', name: 'Order 1042' },
      user: { externalId: 'u-chat-1' },
    });
    await gateway.drain();

    expect(sb.recorder.statuses({ kind: 'reading' })).toMatchObject([
      { chatId: chat.id, messageId: operator.id, externalIds: ['ch-77'], externalChatId: 'chat-1', known: true },
    ]);
    expect(operator.read).toBe(true);
    expect(chat.name).toBe('Order 1042');
    expect((await gateway.state!.message(portal.memberId, { line: LINE, imMessageId: operator.id }))?.readAt).toEqual(
      expect.any(Number),
    );
    expect((await gateway.state!.chat(portal.memberId, LINE, 'chat-1'))?.name).toBe('Order 1042');
    const conversation = await gateway.state!.conversation(portal.memberId, LINE, 'chat-1');
    expect(conversation.map((e) => [e.from, e.text])).toEqual([
      ['customer', 'Hi'],
      ['operator', 'Hello Anna'],
    ]);
  });
});

describe('when Bitrix24 refuses', () => {
  it('a refused action is retried, and the rest of its chat waits for it unsent, its attempts not counted; other chats go on', async () => {
    await gateway.close();
    gateway = open([150, 150, 150]);
    sb.faults.set({
      methodErrors: {
        'imconnector.update.messages': { status: 400, error: 'ERROR_ARGUMENT', description: 'broken', times: 1 },
      },
    });
    await gateway.fromChannel(created('chat-1', 'm-1', 'one'));
    await gateway.fromChannel(updated('chat-1', 'm-1', 'one, edited'));
    await gateway.fromChannel(deleted('chat-1', 'm-1'));
    await gateway.fromChannel(created('chat-2', 'm-2', 'two'));
    await gateway.drain();

    const actions = await gateway.store.listCustomerActions();
    expect(actions.map((a) => [a.type, a.status, a.attempts])).toEqual([
      ['message.created', 'sent', 1],
      ['message.updated', 'pending', 1],
      ['message.deleted', 'pending', 0],
      ['message.created', 'sent', 1],
    ]);
    expect(actions[1]!.lastError).toMatch(/imconnector\.update\.messages .*ERROR_ARGUMENT/);
    expect(commandsOf(sb, 'imconnector.delete.messages')).toHaveLength(0);

    await new Promise((r) => setTimeout(r, 250));
    await gateway.drain();
    expect((await gateway.store.listCustomerActions()).map((a) => a.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(inbound().find((m) => m.externalIds.includes('m-1'))).toMatchObject({ text: 'one, edited', deleted: true });
  });

  it('an outage is ridden through: nothing is lost and nothing sent twice; a spent budget leaves a dead letter that a replay sends', async () => {
    await gateway.close();
    gateway = open([100]);
    sb.faults.set({ outage: 'http503' });
    for (let i = 0; i < 5; i++) await gateway.fromChannel(created(`chat-${i}`, `m-${i}`, `text ${i}`));
    await gateway.drain();
    await new Promise((r) => setTimeout(r, 150));
    await gateway.drain();
    const dead = await gateway.store.listCustomerActions({ status: 'dead' });
    expect(dead).toHaveLength(5);
    expect(inbound()).toHaveLength(0);

    sb.faults.clear();
    sb.faults.set({ rateLimit: false });
    expect(await gateway.store.requeueCustomerActions(dead.map((a) => a.id))).toBe(5);
    await gateway.drain();
    expect(
      inbound()
        .map((m) => m.externalIds[0])
        .sort(),
    ).toEqual(['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
    expect(await gateway.store.countCustomerActions()).toEqual({ pending: 0, sent: 5, dead: 0 });
  });

  it('an item Bitrix24 refuses alone fails alone: an edit of a message it never had', async () => {
    await gateway.fromChannel(created('chat-1', 'm-1', 'one'));
    await gateway.drain();
    await gateway.fromChannel(updated('chat-1', 'nope', 'x', 'u-chat-1'));
    await gateway.fromChannel(updated('chat-2', 'm-1', 'x', 'u-chat-2'));
    await gateway.fromChannel(updated('chat-1', 'm-1', 'one, edited', 'u-chat-1'));
    await gateway.drain();
    const [, wrongId, wrongChat, edit] = await gateway.store.listCustomerActions();
    expect(
      commandsOf(sb, 'imconnector.update.messages').map((c) =>
        (c.params.MESSAGES as { message: { id: string } }[]).map((m) => m.message.id),
      ),
    ).toEqual([['nope', 'm-1']]);
    expect(wrongId).toMatchObject({
      status: 'pending',
      lastError: expect.stringMatching(/B24GW_NOT_ACCEPTED.*Message not found/),
    });
    expect(wrongChat).toMatchObject({ status: 'pending', lastError: expect.stringMatching(/Message not found/) });
    // Behind a failed action of its chat: not sent, not counted.
    expect(edit).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('a read of a message the gateway never delivered fails with why, and sends nothing', async () => {
    await gateway.fromChannel({
      ...target(),
      type: 'message.read',
      chat: { externalId: 'chat-1' },
      messages: [{ bitrixMessageId: 999 }],
    });
    await gateway.drain();
    const [read] = await gateway.store.listCustomerActions();
    expect(read!.lastError).toMatch(/Bitrix24 message 999 of chat chat-1 is not one the gateway delivered on line 107/);
    expect(commandsOf(sb, 'imconnector.send.status.reading')).toHaveLength(0);
  });
});

describe('refused at the door', () => {
  it('an action that is not valid, or for a portal not installed, throws a coded error and keeps nothing', async () => {
    await expect(gateway.fromChannel({ ...created('c', 'm', 'x'), type: 'message.sent' })).rejects.toMatchObject({
      code: 'B24GW_INVALID_CHANNEL_ACTION',
      path: 'type',
      message: expect.stringMatching(/at type: must be one of message.created, /),
    });
    await expect(
      gateway.fromChannel({ ...created('c', 'm', ''), message: { externalId: 'm', text: '' } }),
    ).rejects.toMatchObject({ code: 'B24GW_INVALID_CHANNEL_ACTION', path: 'message' });
    await expect(
      gateway.fromChannel({ ...created('c', 'm', 'x'), chat: { externalId: 'a\u0000b' } }),
    ).rejects.toMatchObject({ code: 'B24GW_INVALID_CHANNEL_ACTION', path: 'chat[externalId]' });
    await expect(
      gateway.fromChannel({ ...created('c', 'm', 'x'), portal: { memberId: 'elsewhere' } }),
    ).rejects.toMatchObject({ code: 'B24GW_PORTAL_NOT_INSTALLED' });
    expect(await gateway.store.listCustomerActions()).toEqual([]);
  });
});

describe('POST /channel/events', () => {
  let server: RunningServer;
  beforeEach(async () => {
    server = await startServer(gateway, { port: 0 });
  });
  afterEach(() => server.close());

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${server.url}/channel/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  const signed = (body: string, id: string, ts = Math.floor(Date.now() / 1000), key = secret) => ({
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': sign(key, id, ts, body),
  });

  it('takes a signed action once, however often the channel sends it, and sends it to Bitrix24', async () => {
    const body = JSON.stringify(created('chat-1', 'm-1', 'Hi'));
    const answers = [];
    for (const id of ['req-1', 'req-1', 'req-2']) answers.push(await (await post(body, signed(body, id))).json());
    expect(answers).toEqual([
      { ok: true, id: 1, duplicate: false },
      { ok: true, id: 1, duplicate: true },
      { ok: true, id: 1, duplicate: true },
    ]);
    await gateway.drain();
    expect(inbound()).toHaveLength(1);
  });

  it('refuses with a coded 401 what is unsigned, signed with another secret, tampered with or too old, and keeps nothing', async () => {
    const body = JSON.stringify(created('chat-1', 'm-1', 'Hi'));
    const old = Math.floor(Date.now() / 1000) - 301;
    const cases = [
      {},
      signed(body, 'r1', undefined, generateSecret()),
      signed(body.replace('Hi', 'Ho'), 'r2'),
      signed(body, 'r3', old),
      { ...signed(body, 'r4'), 'webhook-id': 'r5' },
    ];
    for (const headers of cases) {
      const res = await post(body, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'B24GW_CHANNEL_UNAUTHORIZED' } });
    }
    expect(await gateway.store.listCustomerActions()).toEqual([]);
  });

  it('answers bad JSON and invalid actions 400 with the place, an unknown portal 404, GET 405', async () => {
    const bad = '{"type":';
    expect(await (await post(bad, signed(bad, 'b1'))).json()).toMatchObject({
      error: { code: 'B24GW_MALFORMED_JSON' },
    });
    const invalid = JSON.stringify({ ...created('c', 'm', 'x'), connector: { id: CONNECTOR, line: 0 } });
    const res = await post(invalid, signed(invalid, 'b2'));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: 'B24GW_INVALID_CHANNEL_ACTION', path: 'connector[line]' },
    });
    const elsewhere = JSON.stringify({ ...created('c', 'm', 'x'), portal: { memberId: 'nobody' } });
    expect((await post(elsewhere, signed(elsewhere, 'b3'))).status).toBe(404);
    const get = await fetch(`${server.url}/channel/events`);
    expect(get.status).toBe(405);
  });
});

describe('POST /channel/events without a secret', () => {
  it('answers 404 B24GW_CHANNEL_NOT_CONFIGURED', async () => {
    const plain = new Gateway({ db: `${tmp.dir}/plain.db` });
    const server = await startServer(plain, { port: 0 });
    try {
      const res = await fetch(`${server.url}/channel/events`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'B24GW_CHANNEL_NOT_CONFIGURED' } });
      await expect(plain.fromChannel({})).rejects.toMatchObject({ code: 'B24GW_CHANNEL_NOT_CONFIGURED' });
    } finally {
      await server.close();
    }
  });
});
