import { BitrixApiError } from '../effects/bitrix/errors.js';
import type { CustomerChange } from '../store/state/types.js';
import type { CustomerAction, CustomerActionType } from './actions.js';

/** The imconnector method each kind of action is sent with. */
export const METHOD_OF: Readonly<Record<CustomerActionType, string>> = {
  'message.created': 'imconnector.send.messages',
  'message.updated': 'imconnector.update.messages',
  'message.deleted': 'imconnector.delete.messages',
  'message.read': 'imconnector.send.status.reading',
  'chat.renamed': 'imconnector.chat.name.set',
};

/**
 * Variables per command. Inside `batch` a command is a query string the portal's PHP parses under
 * max_input_vars (1,000 by default), and a message with a full profile is about 20 of them.
 */
export const MAX_VARS_PER_COMMAND = 900;

/** One action ready to send: its MESSAGES items (or, for a rename, the whole parameters) and what the state records if Bitrix24 takes it. */
export interface Prepared {
  method: string;
  connector: string;
  line: number;
  /** The MESSAGES items of a list method. */
  items: Record<string, unknown>[];
  /** The parameters of a method without a list. */
  params?: Record<string, unknown>;
  /** What the state keeps once the portal took it; `created` is completed from the answer. */
  change: CustomerChange;
}

const yes = (flag: boolean | undefined): 'Y' | undefined => (flag ? 'Y' : undefined);

/** Drops undefined fields: the portal's PHP would read an empty value for them. */
function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** How a customer's message goes to imconnector.send.messages, as its page documents the blocks. */
export function createdItem(
  a: Extract<CustomerAction, { type: 'message.created' }>,
  receivedAt: number,
): Record<string, unknown> {
  const u = a.user;
  const m = a.message;
  return {
    user: defined({
      id: u.externalId,
      name: u.name,
      last_name: u.lastName,
      picture: u.pictureUrl === undefined ? undefined : { url: u.pictureUrl },
      url: u.url,
      gender: u.gender,
      email: u.email,
      phone: u.phone,
      skip_phone_validate: yes(u.skipPhoneValidate),
    }),
    message: defined({
      id: m.externalId,
      date: m.date ?? Math.floor(receivedAt / 1000),
      text: m.text,
      files: m.files?.map((f) => defined({ url: f.url, name: f.name })),
      disable_crm: yes(m.disableCrm),
    }),
    chat: defined({ id: a.chat.externalId, name: a.chat.name, url: a.chat.url }),
  };
}

/** Leaves of a value as PHP would count its variables. */
export function variables(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + variables(x), 0) || 1;
  if (typeof v === 'object' && v !== null) return Object.values(v).reduce((n: number, x) => n + variables(x), 0) || 1;
  return 1;
}

/** Items packed into commands of at most MAX_VARS_PER_COMMAND variables, in order. */
export function pack<T extends { vars: number }>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let vars = 0;
  for (const x of list) {
    if (current.length > 0 && vars + x.vars > MAX_VARS_PER_COMMAND) {
      out.push(current);
      current = [];
      vars = 0;
    }
    current.push(x);
    vars += x.vars;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export const notAccepted = (method: string, description: string): BitrixApiError =>
  new BitrixApiError({ method, code: 'B24GW_NOT_ACCEPTED', httpStatus: 0, description });

interface ItemResult {
  SUCCESS?: unknown;
  ERRORS?: unknown;
  user?: unknown;
  session?: { ID?: unknown; CHAT_ID?: unknown };
}

/** What the portal answered for each item of a list command: its own result, or an error for it alone. */
export function itemOutcomes(method: string, result: unknown, count: number): (ItemResult | BitrixApiError)[] {
  const r = result as { SUCCESS?: unknown; DATA?: { RESULT?: unknown } } | null | undefined;
  const rows = Array.isArray(r?.DATA?.RESULT) ? (r.DATA.RESULT as ItemResult[]) : undefined;
  return Array.from({ length: count }, (_, i) => {
    const row = rows?.[i];
    if (row) {
      if (row.SUCCESS === true) return row;
      const errors = Array.isArray(row.ERRORS) ? row.ERRORS.map(String).join('; ') : 'no reason given';
      return notAccepted(method, `Bitrix24 did not take it: ${errors}`);
    }
    // send.status.reading answers {SUCCESS, DATA: []}: all or nothing.
    if (r?.SUCCESS === true || result === true) return {};
    return notAccepted(method, 'Bitrix24 answered without SUCCESS: true');
  });
}

const idOf = (v: unknown): number | null => {
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
};

/** A new message's change completed with what the portal answered: its chat, session and user. */
export function withAnswer(change: CustomerChange, answer: ItemResult): CustomerChange {
  if (change.kind !== 'created') return change;
  return {
    ...change,
    imChatId: idOf(answer.session?.CHAT_ID),
    sessionId: idOf(answer.session?.ID),
    imUserId: idOf(answer.user),
  };
}
