import { GatewayError } from '../../../errors.js';
import { convertBbcode } from '../../../effects/channel/bbcode.js';
import type { ChannelPayload } from '../../../effects/channel/types.js';
import { payloads, type DeliveryResult } from '@b24-im-gateway/sandbox';
import type { Env } from './environment.js';
import { quote } from './format.js';
import { CONNECTOR, LINE, setUp } from './setup.js';
import { step, type Step } from './step.js';
import { until } from './wait.js';
import type { DemoResult } from './types.js';

// The scripted conversation, after the setup: a client writes through the channel and the
// gateway, the operator answers, the client reads it, the operator edits and deletes, Open Lines
// and a bot get events, the dialog closes. Each step is checked.

const EXTERNAL_CHAT = 'chat-42';
const EXTERNAL_USER = 'client-42';
const OPERATOR = 'Maria Lopez';

type DialogPayload = Extract<ChannelPayload, { type: 'dialog.started' | 'dialog.finished' }>;

/** Plays every step, the setup first. */
export async function play(env: Env, result: DemoResult): Promise<void> {
  const { sb, portal, paint } = env;
  const convert = (raw: string) => convertBbcode(raw, env.format);
  await setUp(env, result);

  /** What the client does, through the channel and the gateway: kept before the answer, then sent to Bitrix24. */
  const customerDoes = async (s: Step, action: Record<string, unknown>, what: string): Promise<boolean> => {
    const reply = await env.channel.send(`${env.gateway.url}/channel/events`, {
      version: 1,
      portal: { memberId: portal.memberId },
      connector: { id: CONNECTOR, line: LINE },
      ...action,
    });
    const id = reply.body.id;
    s.line('client -> channel', what);
    s.line(
      'channel -> gateway',
      `POST /channel/events, signed <- ${reply.status === 200 ? paint.ok(`200, kept as customer action #${String(id)}`) : paint.bad(`${reply.status} ${reply.body.error?.code ?? ''}`)}`,
    );
    s.sent = 'POST /channel/events';
    if (!s.check(reply.status === 200 && id !== undefined, `the gateway answered ${reply.status} to the channel`))
      return false;
    const done = await until(
      async () =>
        (await env.store.listCustomerActions()).find(
          (a) => a.id === id && (a.status === 'sent' || a.status === 'dead'),
        ),
      `customer action #${String(id)} to be sent`,
      env.timeoutMs,
      env.signal,
      env.gateway.gone,
    ).catch((e: unknown) => void s.check(false, (e as Error).message));
    if (!done) return false;
    s.line(
      'gateway store',
      `customer action #${String(id)} ${done.type}: ${done.status === 'sent' ? paint.ok('sent') : paint.bad(`${done.status}: ${done.lastError ?? ''}`)}`,
    );
    return s.check(done.status === 'sent', `customer action #${String(id)} is ${done.status}`);
  };

  let chatId = 0;
  let sessionId = 0;
  await step(
    env,
    result,
    'A client writes; the channel sends it through the gateway, and Bitrix24 starts a dialog (ONIMCONNECTORDIALOGSTART)',
    async (s) => {
      const text = 'Hi! Where is my order #1042?';
      const sent = await customerDoes(
        s,
        {
          type: 'message.created',
          chat: { externalId: EXTERNAL_CHAT },
          user: { externalId: EXTERNAL_USER, name: 'Anna' },
          message: { externalId: 'in-001', text },
        },
        `message.created ${quote(text)}`,
      );
      if (!sent) return;
      s.printBack();
      const chat = portal.latestChat(CONNECTOR, LINE, EXTERNAL_CHAT);
      if (
        !s.check(
          chat !== undefined &&
            [...portal.messages.values()].some((m) => m.chatId === chat.id && m.direction === 'in' && m.text === text),
          'Bitrix24 has no client message in the chat',
        )
      )
        return;
      chatId = chat!.id;
      sessionId = chat!.sessionId;
      const known = await env.store.state.chat(portal.memberId, LINE, EXTERNAL_CHAT);
      s.check(
        known?.imChatId === chatId,
        `the connector state maps chat ${EXTERNAL_CHAT} to Bitrix24 chat ${String(known?.imChatId)}, expected ${chatId}`,
      );
      s.line('gateway store', `chat ${EXTERNAL_CHAT} is Bitrix24 chat ${chatId} (session ${sessionId})`);
      await dialogEvent(s, await sb.act.dialog(portal, chat!.id, 'start'), 'dialog.started', sessionId);
    },
  );

  const operatorWrites = async (s: Step, text: string): Promise<{ messageId: number; raw: string; ids: string[] }> => {
    const m = await sb.act.operatorWrites(portal, {
      connector: CONNECTOR,
      line: LINE,
      externalChatId: EXTERNAL_CHAT,
      text,
      operatorName: OPERATOR,
    });
    const [id] = s.delivered(m.delivery);
    if (id === undefined) return { messageId: m.message.id, raw: m.message.text, ids: [] };
    await s.done();
    const [hit] = s.channelGot(id, ['message.created']);
    let ids: string[] = [];
    if (hit?.payload.type === 'message.created') {
      const p = hit.payload;
      s.check(
        p.message.bitrixMessageId === m.message.id &&
          p.chat.bitrixChatId === chatId &&
          p.chat.externalId === EXTERNAL_CHAT,
        'message.created names the wrong message or chat',
      );
      s.check(p.message.rawText === m.message.text, 'message.created rawText differs from what the operator wrote');
      s.check(
        p.message.text === convert(m.message.text) && p.message.textFormat === env.format,
        `message.created text is not the ${env.format} conversion`,
      );
      ids = hit.answer.externalMessageIds ?? [];
    }
    const statuses = await s.statuses([{ chatId, messageId: m.message.id, externalIds: ids }]);
    s.printBack(statuses);
    return { messageId: m.message.id, raw: m.message.text, ids };
  };

  let first = { messageId: 0, raw: '', ids: [] as string[] };
  let second = { ...first };
  await step(env, result, 'The operator answers (ONIMCONNECTORMESSAGEADD)', async (s) => {
    first = await operatorWrites(s, 'Hello Anna! Your order [b]#1042[/b] left our warehouse today.');
  });

  await step(
    env,
    result,
    'The client reads the answer; the gateway tells Bitrix24 (imconnector.send.status.reading)',
    async (s) => {
      const [id] = first.ids;
      if (!s.check(id !== undefined, 'the channel named no id for the answer')) return;
      if (
        !(await customerDoes(
          s,
          { type: 'message.read', chat: { externalId: EXTERNAL_CHAT }, messages: [{ externalId: id }] },
          `message.read ${id}`,
        ))
      )
        return;
      s.printBack();
      s.check(
        portal.messages.get(first.messageId)?.read === true,
        `Bitrix24 does not show message ${first.messageId} as read`,
      );
    },
  );

  await step(env, result, 'The operator writes in the wrong chat (ONIMCONNECTORMESSAGEADD)', async (s) => {
    second = await operatorWrites(s, 'Your refund for order #977 is on its way.');
  });

  const edited = `Hello Anna! Your order [b]#1042[/b] left our warehouse today.[br]Tracking: [url=https://example.com/track/1042]example.com/track/1042[/url]`;
  await step(env, result, 'The operator edits the answer (ONIMCONNECTORMESSAGEUPDATE)', async (s) => {
    const r = await sb.act.operatorEdits(portal, first.messageId, edited);
    const [id] = s.delivered(r);
    if (id === undefined) return;
    await s.done();
    const [hit] = s.channelGot(id, ['message.updated']);
    if (hit?.payload.type === 'message.updated') {
      s.check(
        JSON.stringify(hit.payload.message.externalIds) === JSON.stringify(first.ids),
        `message.updated names ids ${JSON.stringify(hit.payload.message.externalIds)}, the channel gave ${JSON.stringify(first.ids)}`,
      );
      s.check(hit.payload.message.text === convert(edited), `message.updated text is not the ${env.format} conversion`);
    }
    s.printBack(await s.statuses([{ chatId, messageId: first.messageId, externalIds: first.ids }]));
  });

  await step(env, result, 'Open Lines reports the edited message (ONOPENLINEMESSAGEUPDATE)', async (s) => {
    await storedOnly(
      s,
      await sb.sendEvent(
        portal,
        'ONOPENLINEMESSAGEUPDATE',
        payloads.openlineMessageUpdate({ connector: CONNECTOR, line: LINE, chatId, messageId: first.messageId }),
      ),
    );
  });

  await step(env, result, 'The operator deletes the wrong message (ONIMCONNECTORMESSAGEDELETE)', async (s) => {
    const [id] = s.delivered(await sb.act.operatorDeletes(portal, second.messageId));
    if (id === undefined) return;
    await s.done();
    const [hit] = s.channelGot(id, ['message.deleted']);
    if (hit?.payload.type === 'message.deleted') {
      s.check(
        JSON.stringify(hit.payload.message.externalIds) === JSON.stringify(second.ids),
        `message.deleted names ids ${JSON.stringify(hit.payload.message.externalIds)}, the channel gave ${JSON.stringify(second.ids)}`,
      );
    }
    s.printBack();
  });

  const bot = [...portal.bots.values()][0];
  const botInput = {
    bots: [{ id: bot?.id ?? 0, code: bot?.code ?? 'demo_bot', name: 'Demo Bot' }],
    chatType: 'C' as const,
    chatId: 1157,
    messageId: 84351,
    text: ', how many dialogs are open on line 1?',
    chatTitle: 'Support team',
  };
  const botEvent = async (s: Step, kind: 'add' | 'update', text: string): Promise<void> => {
    if (!bot) throw new GatewayError('B24GW_DEMO_FAILED', 'no bot is registered (the setup step failed)');
    await storedOnly(s, await sb.act.bot(portal, kind, { ...botInput, text }));
  };
  await step(env, result, 'A colleague mentions the bot in a group chat (ONIMBOTMESSAGEADD)', (s) =>
    botEvent(s, 'add', botInput.text),
  );

  await step(env, result, '...and edits the message (ONIMBOTMESSAGEUPDATE)', (s) =>
    botEvent(s, 'update', ', how many dialogs are open on line 1 today?'),
  );

  await step(env, result, 'The operator closes the dialog (ONIMCONNECTORDIALOGFINISH)', async (s) => {
    await dialogEvent(s, await sb.act.dialog(portal, chatId, 'finish'), 'dialog.finished', sessionId);
  });
}

/** An event the gateway stores and marks done, with nothing for the channel. */
async function storedOnly(s: Step, sent: DeliveryResult): Promise<void> {
  const [id] = s.delivered(sent);
  if (id === undefined) return;
  await s.done();
  s.channelGot(id, []);
  s.printBack();
}

/** A dialog event: one payload for the channel, naming the chat, user and session Bitrix24 sent, as the channel README describes. */
async function dialogEvent(
  s: Step,
  sent: DeliveryResult,
  type: DialogPayload['type'],
  sessionId: number,
): Promise<void> {
  const [id] = s.delivered(sent);
  if (id === undefined) return;
  await s.done();
  const [hit] = s.channelGot(id, [type]);
  const p = hit?.payload;
  if (isDialog(p, type)) {
    const item = ((sent.deliveries[0]?.payload.data as { DATA?: { chat?: { id?: unknown } }[] } | undefined)?.DATA ??
      [])[0];
    s.check(
      String(p.chat.externalId) === String(item?.chat?.id),
      `${p.type} names chat ${String(p.chat.externalId)}, Bitrix24 sent ${String(item?.chat?.id)}`,
    );
    s.check(p.dialog.sessionId === sessionId, `${p.type} names session ${p.dialog.sessionId}, expected ${sessionId}`);
  }
  s.printBack();
}

const isDialog = (p: ChannelPayload | undefined, type: DialogPayload['type']): p is DialogPayload => p?.type === type;
