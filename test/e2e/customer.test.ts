import { describe, expect, it } from 'vitest';
import { sign } from '../../src/effects/channel/sign.js';
import { installed, runCli, SETUP_METHODS, setupArgs } from './connector-cli.js';
import { CONNECTOR, useSandboxRig } from './sandbox-rig.js';

// A customer's side of a conversation through the built CLI (serve, its intake and worker each on
// a thread) against the sandbox: the channel posts signed actions to /channel/events, retrying and
// repeating them; Bitrix24 gets each once, in order, and the state maps both directions.

const rig = useSandboxRig({ timeoutMs: 30_000 });
const LINE = 1;

async function ready(): Promise<void> {
  await installed(rig);
  const r = await runCli([...setupArgs(rig, CONNECTOR), '--line', String(LINE)]);
  expect(r.code, r.stderr).toBe(0);
}

/** The channel sends one action, signed with its secret, under its own request id. */
async function send(
  action: object,
  requestId: string,
): Promise<{ status: number; body: { ok?: boolean; id?: number; duplicate?: boolean; error?: { code: string } } }> {
  const body = JSON.stringify({
    version: 1,
    portal: { memberId: rig.sb.portal.memberId },
    connector: { id: CONNECTOR, line: LINE },
    ...action,
  });
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${rig.gw!.url}/channel/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': requestId,
      'webhook-timestamp': String(ts),
      'webhook-signature': sign(rig.channel.secret, requestId, ts, body),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as { ok?: boolean } };
}

const inbound = () => [...rig.sb.portal.messages.values()].filter((m) => m.direction === 'in');
const imconnectorCalls = () =>
  rig.sb.recorder
    .calls()
    .filter(
      (c) =>
        c.method.startsWith('imconnector.') &&
        c.method !== 'imconnector.send.status.delivery' &&
        ![...SETUP_METHODS, 'imconnector.status'].includes(c.method),
    );

describe("a conversation, the customer's side through POST /channel/events", () => {
  it('writes (a request retried and repeated), is answered, reads, edits, deletes and renames: each reaches Bitrix24 once, in order, and the state knows both sides', async () => {
    await ready();
    const portal = rig.sb.portal;
    const hello = {
      type: 'message.created',
      chat: { externalId: 'chat-1', name: 'Anna' },
      user: { externalId: 'anna', name: 'Anna', lastName: 'Berg' },
      message: { externalId: 'm-1', text: 'Where is my order?' },
    };
    // The channel's first answer was lost: it retries the same request, then sends the message again under a new one.
    const answers = [
      await send(hello, 'r-1'),
      await send(hello, 'r-1'),
      await send(hello, 'r-1'),
      await send(hello, 'r-2'),
    ];
    expect(answers.map((a) => [a.status, a.body.duplicate])).toEqual([
      [200, false],
      [200, true],
      [200, true],
      [200, true],
    ]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    await rig.until(
      () => (inbound().length > 0 ? true : undefined),
      () => "the customer's message in Bitrix24",
    );
    expect(inbound().map((m) => [m.text, m.externalIds])).toEqual([['Where is my order?', ['m-1']]]);
    const chat = portal.chats.get(inbound()[0]!.chatId)!;

    // The operator answers; the channel takes it under its own id.
    const reply = await rig.sb.act.operatorWrites(portal, {
      connector: CONNECTOR,
      line: LINE,
      externalChatId: 'chat-1',
      text: 'It left today.',
    });
    const delivered = await rig.until(
      () => rig.channel.deliveries.find((d) => d.payload.type === 'message.created'),
      () => 'the reply at the channel',
    );
    const channelId = `ext-${delivered.payload.id}`;
    await rig.until(
      () => (reply.message.delivered ? true : undefined),
      () => 'the delivery status',
    );

    expect(
      (
        await send(
          { type: 'message.read', chat: { externalId: 'chat-1' }, messages: [{ externalId: channelId }] },
          'r-3',
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await send(
          {
            type: 'message.updated',
            chat: { externalId: 'chat-1' },
            message: { externalId: 'm-1', text: 'Where is order 1042?' },
          },
          'r-4',
        )
      ).status,
    ).toBe(200);
    expect(
      (await send({ type: 'message.deleted', chat: { externalId: 'chat-1' }, message: { externalId: 'm-1' } }, 'r-5'))
        .status,
    ).toBe(200);
    expect(
      (
        await send(
          {
            type: 'chat.renamed',
            chat: { externalId: 'chat-1', name: 'Anna Berg, order 1042' },
            user: { externalId: 'anna' },
          },
          'r-6',
        )
      ).status,
    ).toBe(200);
    await rig.until(
      () => (chat.name ? true : undefined),
      () => 'the chat renamed',
    );

    expect(imconnectorCalls().map((c) => c.method)).toEqual([
      'imconnector.send.messages',
      'imconnector.send.status.reading',
      'imconnector.update.messages',
      'imconnector.delete.messages',
      'imconnector.chat.name.set',
    ]);
    expect(inbound()).toHaveLength(1);
    expect(inbound()[0]).toMatchObject({ text: 'Where is order 1042?', deleted: true });
    expect(reply.message.read).toBe(true);
    expect(rig.sb.recorder.statuses({ kind: 'reading' })).toMatchObject([
      { messageId: reply.message.id, externalIds: [channelId], known: true },
    ]);

    // The operator edits the reply: the channel is told under its own id.
    await rig.sb.act.operatorEdits(portal, reply.message.id, 'It left today; tracking: 1042.');
    const edit = await rig.until(
      () => rig.channel.deliveries.find((d) => d.payload.type === 'message.updated'),
      () => 'the edit at the channel',
    );
    expect(edit.payload.message?.externalIds).toEqual([channelId]);

    const conversation = await rig.store!.state.conversation(portal.memberId, LINE, 'chat-1');
    expect(conversation.map((e) => [e.from, e.externalIds, e.deleted])).toEqual([
      ['customer', ['m-1'], true],
      ['operator', [channelId], false],
    ]);
    expect(conversation[1]!.readAt).toEqual(expect.any(Number));
    expect(await rig.store!.state.chat(portal.memberId, LINE, 'chat-1')).toMatchObject({
      imChatId: chat.id,
      name: 'Anna Berg, order 1042',
    });

    const listed = JSON.parse((await runCli(['connector', 'actions', '--db', rig.db, '--json'])).stdout) as {
      type: string;
      status: string;
      chat: string;
    }[];
    expect(listed.map((a) => [a.type, a.status])).toEqual([
      ['message.created', 'sent'],
      ['message.read', 'sent'],
      ['message.updated', 'sent'],
      ['message.deleted', 'sent'],
      ['chat.renamed', 'sent'],
    ]);
  });

  it('refuses unsigned or invalid requests with coded answers, and a dead action is replayed from the command line', async () => {
    await ready();
    const body = JSON.stringify({ type: 'message.created' });
    const unsigned = await fetch(`${rig.gw!.url}/channel/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ error: { code: 'B24GW_CHANNEL_UNAUTHORIZED' } });
    expect(
      (
        await send(
          {
            type: 'message.created',
            chat: { externalId: 'c' },
            user: { externalId: 'u' },
            message: { externalId: 'm' },
          },
          'x-1',
        )
      ).body,
    ).toMatchObject({ error: { code: 'B24GW_INVALID_CHANNEL_ACTION' } });

    // The line switched off: Bitrix24 refuses every message until the retry budget is spent (200ms, 500ms, 1s, 2s, 5s here).
    rig.sb.portal.setLine(CONNECTOR, LINE, { active: false });
    await send(
      {
        type: 'message.created',
        chat: { externalId: 'c' },
        user: { externalId: 'u' },
        message: { externalId: 'm', text: 'hi' },
      },
      'x-2',
    );
    const dead = await rig.until(
      async () => (await rig.store!.listCustomerActions({ status: 'dead' }))[0],
      () => 'a dead action',
      20_000,
    );
    expect(dead.lastError).toMatch(/NOT_ACTIVE_LINE/);
    rig.sb.portal.setLine(CONNECTOR, LINE, { active: true });
    const replayed = await runCli(['connector', 'replay', '--db', rig.db, '--dead']);
    expect(replayed.stdout).toContain('1 of 1 customer actions put back to pending');
    await rig.until(
      () => (inbound().length === 1 ? true : undefined),
      () => 'the replayed message in Bitrix24',
    );
  });
});
