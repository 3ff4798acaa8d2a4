import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { bracketPath } from '../events/scalars.js';

/*
 * What the channel sends the gateway when its customers act: small versioned JSON, in the style of
 * what the gateway delivers to it (camelCase, the channel's ids as `externalId`). The reference for
 * channel developers is src/effects/channel/README.md ("What the channel sends").
 */

/** No database text column holds U+0000, and Bitrix24 would cut a string there. */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain a NUL character');
/** An id of the channel's: kept exactly as sent. */
const id = () => text(255).min(1);
const httpUrl = () => text(2048).refine((s) => /^https?:\/\/[^\s]+$/i.test(s), 'must be an http(s) URL');

const target = {
  version: z.literal(1).optional(),
  portal: z.looseObject({ memberId: text(64).min(1) }),
  connector: z.looseObject({ id: text(64).min(1), line: z.number().int().positive().max(2_147_483_647) }),
};

const customer = z.looseObject({
  externalId: id(),
  name: text(100).optional(),
  lastName: text(100).optional(),
  pictureUrl: httpUrl().optional(),
  url: httpUrl().optional(),
  email: text(255).optional(),
  phone: text(64).optional(),
  gender: z.enum(['male', 'female']).optional(),
  /** Skip Bitrix24's phone check before the phone goes to the CRM (rarely needed). */
  skipPhoneValidate: z.boolean().optional(),
});

const userRef = z.looseObject({ externalId: id() });
const file = z.looseObject({ url: httpUrl(), name: text(255).optional() });
const files = z.array(file).min(1).max(20);
const chat = z.looseObject({ externalId: id(), name: text(255).optional(), url: httpUrl().optional() });
const messageText = text(100_000);

const created = z.looseObject({
  ...target,
  type: z.literal('message.created'),
  chat,
  user: customer,
  message: z
    .looseObject({
      externalId: id(),
      /** Unix seconds; default: when the gateway took it. */
      date: z.number().int().positive().optional(),
      text: messageText.optional(),
      files: files.optional(),
      /** Keep Bitrix24's CRM tracker out of this message. */
      disableCrm: z.boolean().optional(),
    })
    .refine((m) => (m.text !== undefined && m.text !== '') || m.files !== undefined, 'needs text or files'),
});

const updated = z.looseObject({
  ...target,
  type: z.literal('message.updated'),
  chat,
  user: userRef.optional(),
  message: z
    .looseObject({ externalId: id(), text: messageText.optional(), files: files.optional() })
    .refine((m) => (m.text !== undefined && m.text !== '') || m.files !== undefined, 'needs text or files'),
});

const deleted = z.looseObject({
  ...target,
  type: z.literal('message.deleted'),
  chat,
  user: userRef.optional(),
  message: z.looseObject({ externalId: id() }),
});

/** An operator's message the customer read: by Bitrix24's id (from `message.created`) or by the id the channel gave it. */
const readRef = z.union([
  z.looseObject({ bitrixMessageId: z.number().int().positive() }),
  z.looseObject({ externalId: id() }),
]);

const read = z.looseObject({
  ...target,
  type: z.literal('message.read'),
  chat,
  messages: z.array(readRef).min(1).max(100),
});

const renamed = z.looseObject({
  ...target,
  type: z.literal('chat.renamed'),
  chat: z.looseObject({ externalId: id(), name: text(255).min(1) }),
  /** Needed by connectors whose chats are one-to-one (registered without CHAT_GROUP). */
  user: userRef.optional(),
});

const action = z.discriminatedUnion('type', [created, updated, deleted, read, renamed]);

export type CustomerAction = z.infer<typeof action>;
export type CustomerActionType = CustomerAction['type'];
export type MessageCreated = z.infer<typeof created>;
export type MessageUpdated = z.infer<typeof updated>;
export type MessageDeleted = z.infer<typeof deleted>;
export type MessageRead = z.infer<typeof read>;
export type ChatRenamed = z.infer<typeof renamed>;

export const customerActionTypes: readonly CustomerActionType[] = [
  'message.created',
  'message.updated',
  'message.deleted',
  'message.read',
  'chat.renamed',
];

/** A customer action as documented, or B24GW_INVALID_CHANNEL_ACTION naming the first place that is not. */
export function parseCustomerAction(input: unknown): CustomerAction {
  const result = action.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue && issue.path.length > 0 ? bracketPath(issue.path) : undefined;
  const message =
    issue?.code === 'invalid_union' && path === 'type'
      ? `must be one of ${customerActionTypes.join(', ')}`
      : (issue?.message ?? 'invalid');
  throw new GatewayError(
    'B24GW_INVALID_CHANNEL_ACTION',
    `The customer action is not valid${path ? ` at ${path}` : ''}: ${message}`,
    path === undefined ? undefined : { path },
  );
}

/** Actions of one chat go to Bitrix24 in order. */
export const orderKeyOf = (a: CustomerAction): string =>
  JSON.stringify([a.portal.memberId, a.connector.id, a.connector.line, a.chat.externalId]);

/**
 * What makes a retry the same action: a new message is the channel's message id (so a message is
 * never created twice, whatever request carries it); anything else is the request's id.
 */
export function dedupKeyOf(a: CustomerAction, requestId: string): string {
  if (a.type === 'message.created')
    return JSON.stringify(['created', a.connector.id, a.connector.line, a.chat.externalId, a.message.externalId]);
  return JSON.stringify([a.type, requestId]);
}
