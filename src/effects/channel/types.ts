import type { KnownEvent } from '../../events/registry.js';
import type { TextFormat } from './bbcode.js';

export type { TextFormat };

/**
 * The payload version. Adding fields or types keeps it; renaming, removing or changing the
 * meaning of a field bumps it, so a channel can refuse a version it was not written for.
 */
export const PAYLOAD_VERSION = 1;

/** A parsed event (`parseEvent(...).event`); events that are not for the channel give no payloads. */
export type KnownEventLike = KnownEvent | { event: string };

export type ChannelEventType = ChannelPayload['type'];

interface Envelope<T extends string> {
  version: typeof PAYLOAD_VERSION;
  type: T;
  /** Sent as `webhook-id` too: the same on every retry of this payload, so the channel can de-duplicate. */
  id: string;
  /** When Bitrix24 queued the event (its `ts`), not when this attempt was made. */
  occurredAt: string;
  portal: { memberId: string; domain: string };
  connector: { id: string; line: number };
  /** The Bitrix24 event behind the payload, for support; not needed to act on it. */
  source: { event: string; eventId: number };
}

export interface ChannelChat {
  /** The chat's id in the external channel, exactly as the connector reported it ("00123" stays a string). */
  externalId: string;
  bitrixChatId: number;
}

export interface MessageCreated extends Envelope<'message.created'> {
  chat: ChannelChat;
  message: {
    bitrixMessageId: number;
    /** The Bitrix24 user (operator) the message is sent on behalf of; null when not sent. */
    bitrixAuthorId: number | null;
    text: string;
    textFormat: TextFormat;
    /** The text as Bitrix24 sent it, in BB-code. */
    rawText: string;
  };
}

export interface MessageUpdated extends Envelope<'message.updated'> {
  chat: ChannelChat;
  message: {
    /** The ids the channel gave this message (reported back to Bitrix24 on delivery). */
    externalIds: string[];
    bitrixMessageId: number;
    /** The new text; null when Bitrix24 sent none. */
    text: string | null;
    textFormat: TextFormat;
    rawText: string | null;
  };
}

export interface MessageDeleted extends Envelope<'message.deleted'> {
  chat: ChannelChat;
  message: { externalIds: string[]; bitrixMessageId: number };
}

interface DialogPayload<T extends string> extends Envelope<T> {
  chat: { externalId: string };
  /** The client in the external channel; null when not sent. */
  user: { externalId: string } | null;
  dialog: {
    /** The Open Lines session (one conversation) in Bitrix24. */
    sessionId: number;
    previousSessionId: number | null;
    /** Minutes until an idle session closes; null when not sent. */
    closeTermMinutes: number | null;
  };
}

export type DialogStarted = DialogPayload<'dialog.started'>;
export type DialogFinished = DialogPayload<'dialog.finished'>;

/** The connector was switched off on this line: stop sending for it. */
export type ConnectorDeleted = Envelope<'connector.deleted'>;

/** The open line was deleted. Bitrix24 names only the line, so `connector.id` is null. */
export interface LineDeleted extends Omit<Envelope<'line.deleted'>, 'connector'> {
  connector: { id: null; line: number };
}

export type ChannelPayload =
  MessageCreated | MessageUpdated | MessageDeleted | DialogStarted | DialogFinished | ConnectorDeleted | LineDeleted;
