import { itemsOf } from '../../events/lists.js';
import type { EventMap } from '../../events/registry.js';
import { convertBbcode } from './bbcode.js';
import { PAYLOAD_VERSION, type ChannelPayload, type KnownEventLike, type TextFormat } from './types.js';

export interface PayloadMeta {
  /** The gateway's id of the stored event: with the item's index it makes the delivery id. */
  eventId: number;
  memberId: string;
  domain: string;
}

/** Stable across retries, and without dots: the id is part of the signed `id.timestamp.body`. */
export const deliveryId = (eventId: number, index: number): string => `evt_${eventId}_${index}`;

type Ev<C extends keyof EventMap> = EventMap[C];
type Type = ChannelPayload['type'];
type Body<T extends Type> = Omit<
  Extract<ChannelPayload, { type: T }>,
  'version' | 'type' | 'id' | 'occurredAt' | 'portal' | 'connector' | 'source'
>;
type ConnectorOf<T extends Type> = Extract<ChannelPayload, { type: T }>['connector'];

/**
 * The channel payloads of one event: one per item of `data.MESSAGES` / `data.DATA`, in order,
 * or one for a line-wide event. Events that are not for the channel give [].
 */
export function channelPayloads(event: KnownEventLike, meta: PayloadMeta, format: TextFormat): ChannelPayload[] {
  const e = event as KnownEventLike & { ts?: unknown };
  if (typeof e.ts !== 'number') return [];
  const occurredAt = new Date(e.ts * 1000).toISOString();
  // Field order here is the documented order, which helps people reading raw bodies.
  const make = <T extends Type>(type: T, index: number, connector: ConnectorOf<T>, body: Body<T>) =>
    ({
      version: PAYLOAD_VERSION,
      type,
      id: deliveryId(meta.eventId, index),
      occurredAt,
      portal: { memberId: meta.memberId, domain: meta.domain },
      connector,
      ...body,
      source: { event: e.event, eventId: meta.eventId },
    }) as Extract<ChannelPayload, { type: T }>;
  const text = (raw: string) => convertBbcode(raw, format);

  switch (e.event) {
    case 'ONIMCONNECTORMESSAGEADD': {
      const { data } = e as Ev<'ONIMCONNECTORMESSAGEADD'>;
      return itemsOf(data).map((m, i) =>
        make(
          'message.created',
          i,
          { id: data.CONNECTOR, line: data.LINE },
          {
            chat: { externalId: m.chat.id, bitrixChatId: m.im.chat_id },
            message: {
              bitrixMessageId: m.im.message_id,
              bitrixAuthorId: m.message.user_id ?? null,
              text: text(m.message.text),
              textFormat: format,
              rawText: m.message.text,
            },
          },
        ),
      );
    }
    case 'ONIMCONNECTORMESSAGEUPDATE': {
      const { data } = e as Ev<'ONIMCONNECTORMESSAGEUPDATE'>;
      return itemsOf(data).map((m, i) =>
        make(
          'message.updated',
          i,
          { id: data.CONNECTOR, line: data.LINE },
          {
            chat: { externalId: m.chat.id, bitrixChatId: m.im.chat_id },
            message: {
              externalIds: [...m.message.id],
              bitrixMessageId: m.im.message_id,
              text: m.message.text === undefined ? null : text(m.message.text),
              textFormat: format,
              rawText: m.message.text ?? null,
            },
          },
        ),
      );
    }
    case 'ONIMCONNECTORMESSAGEDELETE': {
      const { data } = e as Ev<'ONIMCONNECTORMESSAGEDELETE'>;
      return itemsOf(data).map((m, i) =>
        make(
          'message.deleted',
          i,
          { id: data.CONNECTOR, line: data.LINE },
          {
            chat: { externalId: m.chat.id, bitrixChatId: m.im.chat_id },
            // Documented as one string; a list is kept whole.
            message: { externalIds: ([] as string[]).concat(m.message.id), bitrixMessageId: m.im.message_id },
          },
        ),
      );
    }
    case 'ONIMCONNECTORDIALOGSTART':
    case 'ONIMCONNECTORDIALOGFINISH': {
      const { data } = e as Ev<'ONIMCONNECTORDIALOGSTART'>;
      const type = e.event === 'ONIMCONNECTORDIALOGSTART' ? 'dialog.started' : 'dialog.finished';
      return itemsOf(data).map((d, i) => {
        const user = d.user?.id ?? d.connector.user_id;
        return make(
          type,
          i,
          { id: data.CONNECTOR, line: data.LINE },
          {
            chat: { externalId: d.chat.id },
            user: user === undefined ? null : { externalId: user },
            dialog: {
              sessionId: d.session.id,
              // Bitrix24 writes "no previous session" as 0.
              previousSessionId: d.session.parent_id || null,
              closeTermMinutes: d.session.close_term ?? null,
            },
          },
        );
      });
    }
    case 'ONIMCONNECTORSTATUSDELETE': {
      const { data } = e as Ev<'ONIMCONNECTORSTATUSDELETE'>;
      return [make('connector.deleted', 0, { id: data.connector, line: data.line }, {})];
    }
    case 'ONIMCONNECTORLINEDELETE': {
      const { data } = e as Ev<'ONIMCONNECTORLINEDELETE'>;
      return [make('line.deleted', 0, { id: null, line: data }, {})];
    }
    default:
      return [];
  }
}
