import { callRest } from '@b24-im-gateway/sandbox';
import type { StoredEvent } from '../../../store/types.js';
import type { Env } from './environment.js';
import { CONNECTOR, LINE } from './setup.js';
import { step, type Step } from './step.js';
import type { DemoResult } from './types.js';

// The pull modes, after the conversation: Bitrix24 keeps the events and the gateway (`serve
// --pull`) takes them: a Chatbots 2.0 bot in fetch mode, then the connector on offline events.

/**
 * Tells where Bitrix24 kept the event (`kept`), waits for the gateway to pull it (the first event
 * with this code stored since `known`) and tells how it was stored (`how`).
 */
async function pulled(
  s: Step,
  code: string,
  known: Set<number>,
  o: { kept: string; awaiting: string; how: (e: StoredEvent) => string },
): Promise<StoredEvent | undefined> {
  s.line('Bitrix24', `${s.env.paint.bold(code)} ${o.kept}`);
  const event = await s.waitFor(
    async () => (await s.env.store.listEvents({ code })).find((e) => !known.has(e.id)),
    o.awaiting,
  );
  if (event) s.line('gateway -> Bitrix24', o.how(event));
  return event;
}

export async function playPull(env: Env, result: DemoResult): Promise<void> {
  const { sb, store, paint } = env;
  const portal = sb.portal;
  const token = sb.issueTokens(portal).access_token;
  const known = async () => new Set((await store.listEvents()).map((e) => e.id));

  await step(
    env,
    result,
    'A Chatbots 2.0 bot in fetch mode: the gateway pulls its events (imbot.v2.Event.get)',
    async (s) => {
      const r = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
        auth: token,
        fields: { code: 'demo_fetch_bot', properties: { name: 'Fetch Bot' }, eventMode: 'fetch' },
      });
      const botId = (r.body as { result?: { bot?: { id?: number } } }).result?.bot?.id;
      s.line(
        'application -> Bitrix24',
        `${paint.bold('imbot.v2.Bot.register')} eventMode fetch <- ${r.status}, bot ${botId}`,
      );
      if (!s.check(r.status === 200 && typeof botId === 'number', `imbot.v2.Bot.register answered ${r.status}`)) return;
      const before = await known();
      const sent = await sb.act.chatbot(portal, { kind: 'write', botId: botId!, text: 'Hello, fetch bot!' });
      s.sent = 'ONIMBOTV2MESSAGEADD (kept)';
      const event = await pulled(s, 'ONIMBOTV2MESSAGEADD', before, {
        kept: `kept in the bot's queue (${sent.results.map((x) => (x.queued ?? []).map((q) => `event ${q.eventId}`).join(', ')).join(', ')}), nothing posted`,
        awaiting: "the gateway to pull the bot's event",
        how: (e) =>
          `${paint.bold('imbot.v2.Event.get')} botId ${botId}: stored as event #${e.id} (delivery ${e.delivery})`,
      });
      if (!event) return;
      s.ids.push(event.id);
      await s.done();
      s.check(event.delivery === 'fetch', `event #${event.id} arrived by ${event.delivery}, expected fetch`);
      const queue = portal.chatbots.settings.get(botId!)?.queue;
      const confirmed = await s.waitFor(
        async () => (queue && queue.size === 0 ? true : undefined),
        "the bot's queue to be confirmed by the next Event.get (offset)",
      );
      if (confirmed)
        s.line('Bitrix24', `the bot's queue is empty: the next Event.get's offset confirmed what was stored`);
      s.back.push('imbot.v2.Event.get');
    },
  );

  await step(
    env,
    result,
    'The connector switches to offline events: Bitrix24 keeps them, the gateway pulls (event.offline.get)',
    async (s) => {
      // What `connector setup --offline --url` does for this event: bound offline, and ONOFFLINEEVENT to the gateway.
      const calls: [string, Record<string, unknown>][] = [
        ['event.unbind', { event: 'ONIMCONNECTORMESSAGEADD', handler: env.eventsUrl, auth_type: 0 }],
        ['event.bind', { event: 'ONIMCONNECTORMESSAGEADD', event_type: 'offline' }],
        ['event.bind', { event: 'ONOFFLINEEVENT', handler: env.eventsUrl }],
      ];
      for (const [method, params] of calls) {
        const r = await callRest(sb.restUrl, method, { auth: token, ...params });
        s.line('application -> Bitrix24', `${paint.bold(method)} ${JSON.stringify(params)} <- ${r.status}`);
        if (!s.check(r.status === 200, `${method} answered ${r.status}`)) return;
      }
      const before = await known();
      const m = await sb.act.operatorWrites(portal, {
        connector: CONNECTOR,
        line: LINE,
        externalChatId: 'chat-offline',
        text: 'This one waited in the portal.',
      });
      s.sent = 'ONIMCONNECTORMESSAGEADD (offline)';
      const event = await pulled(s, 'ONIMCONNECTORMESSAGEADD', before, {
        kept: `kept in the offline queue (record ${(m.delivery.offline ?? []).join(', ')}); ONOFFLINEEVENT posted to the gateway`,
        awaiting: 'the gateway to pull the offline record',
        how: (e) =>
          `${paint.bold('event.offline.get')} clear=0: stored as event #${e.id} (delivery ${e.delivery}), then ${paint.bold('event.offline.clear')}`,
      });
      if (!event) return;
      const news = (await store.listEvents({ code: 'ONOFFLINEEVENT' }))
        .filter((e) => !before.has(e.id))
        .map((e) => e.id);
      s.ids.push(...news, event.id);
      await s.done();
      s.check(event.delivery === 'offline', `event #${event.id} arrived by ${event.delivery}, expected offline`);
      s.channelGot(event.id, ['message.created']);
      const empty = await s.waitFor(
        async () => (portal.offline.size === 0 ? true : undefined),
        'the offline queue to be cleared',
      );
      if (empty) s.line('Bitrix24', 'the offline queue is empty: cleared once the record was stored');
      s.back.push('event.offline.get, event.offline.clear');
    },
  );
}
