import type { ConnectorStateStore, DeliveredIds } from '../store/state/types.js';
import type { HandlerContext } from '../worker/context.js';
import type { AnyEvent } from '../worker/handlers.js';
import type { NewStatus } from '../store/types.js';
import type { TextFormat } from './channel/bbcode.js';
import { deliverToChannel, type ChannelTarget } from './channel/deliver.js';
import { channelPayloads } from './channel/payload.js';
import type { ChannelPayload } from './channel/types.js';

/** Replaces the HTTP delivery: the channel's ids for a new message, if it has them. `signal` is the attempt's ctx.signal. */
export type Deliver = (
  payload: ChannelPayload,
  options: { signal: AbortSignal },
) => Promise<{ externalIds?: string[] } | void>;

export type ChannelOptions = (ChannelTarget | { deliver: Deliver }) & { format?: TextFormat };

export interface BuiltinEffects {
  state?: ConnectorStateStore | undefined;
  channel?: ChannelOptions | undefined;
  /** Keeps delivery statuses for Bitrix24 (the status outbox); sent apart from the event, in batches. */
  statuses?: ((statuses: NewStatus[]) => Promise<void>) | undefined;
}

/** Events whose delivery Bitrix24 wants confirmed with imconnector.send.status.delivery. */
const confirmed = new Set(['message.created', 'message.updated']);

interface Item {
  im?: { chat_id: number; message_id: number };
  chat?: { id: string };
}

/**
 * What the gateway does for every connector event without any code: record it in the
 * connector state, deliver it to the external channel, then confirm the delivery to Bitrix24.
 * Each step is safe to repeat: the state ignores an event it has applied, the channel sees
 * the same webhook-id again, and a repeated status changes nothing in Bitrix24.
 */
export function builtinHandler(effects: BuiltinEffects) {
  const channel = effects.channel;
  const send: Deliver | undefined =
    channel && ('deliver' in channel ? channel.deliver : (p, o) => deliverToChannel(channel, p, o.signal));
  return async (event: AnyEvent, ctx: HandlerContext): Promise<void> => {
    await effects.state?.apply(event, { eventId: ctx.eventId, memberId: ctx.memberId, receivedAt: Date.now() });
    if (!send) return;
    const payloads = channelPayloads(
      event,
      { eventId: ctx.eventId, memberId: ctx.memberId, domain: ctx.portal?.domain ?? event.auth.domain },
      channel?.format ?? 'text',
    );
    const data = (event as { data?: { CONNECTOR?: string; LINE?: number; MESSAGES?: Item[]; DATA?: Item[] } }).data;
    const items = data?.MESSAGES ?? data?.DATA ?? [];
    // A portal known only by a configured token (an outgoing webhook) has no OAuth pair to call back with.
    const statuses = ctx.portal?.accessToken || ctx.portal?.refreshToken ? effects.statuses : undefined;
    const confirmations: NewStatus[] = [];
    const delivered: DeliveredIds[] = [];
    for (const [i, payload] of payloads.entries()) {
      // A payload not yet sent when the attempt is aborted is not sent: the retry sends it.
      ctx.signal.throwIfAborted();
      const answer = await send(payload, { signal: ctx.signal });
      const item = items[i];
      if (
        !confirmed.has(payload.type) ||
        !item?.im ||
        !item.chat ||
        data?.CONNECTOR === undefined ||
        data.LINE === undefined
      )
        continue;
      // A new message has no external id until the channel names one; its delivery id stands in.
      const fromEvent =
        'message' in payload && 'externalIds' in payload.message ? payload.message.externalIds : undefined;
      const ids = answer?.externalIds ?? (fromEvent && fromEvent.length > 0 ? fromEvent : [payload.id]);
      // The state learns the ids a new message was delivered under: a customer's read names it by them.
      if (payload.type === 'message.created')
        delivered.push({ line: data.LINE, imMessageId: item.im.message_id, externalIds: ids });
      if (!statuses) continue;
      const status = { im: item.im, message: { id: ids }, chat: { id: item.chat.id } };
      confirmations.push({
        memberId: ctx.memberId,
        connector: data.CONNECTOR,
        line: data.LINE,
        item: JSON.stringify(status),
        eventId: ctx.eventId,
      });
    }
    if (delivered.length > 0) await effects.state?.recordDelivered(ctx.memberId, delivered);
    if (statuses && confirmations.length > 0) await statuses(confirmations);
  };
}
