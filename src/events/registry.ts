import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { WireObject } from '../wire/types.js';
import { appInstall, appTest, appUninstall } from './app.js';
import { botMessageAdd, botMessageDelete, botMessageUpdate } from './bot.js';
import { botV2Data, botV2Events } from './bot-v2.js';
import {
  connectorDialogFinish,
  connectorDialogStart,
  connectorLineDelete,
  connectorMessageAdd,
  connectorMessageDelete,
  connectorMessageUpdate,
  connectorStatusDelete,
} from './connector.js';
import { unknownEventSchema } from './envelope.js';
import { imV2Data, imV2Events } from './im-v2.js';
import {
  openLineMessageAdd,
  openLineMessageDelete,
  openLineMessageUpdate,
  sessionFinish,
  sessionStart,
} from './openlines.js';
import { bracketPath, int, str } from './scalars.js';

/** One schema per event code the gateway knows. */
export const eventSchemas = {
  ONIMCONNECTORMESSAGEADD: connectorMessageAdd,
  ONIMCONNECTORMESSAGEUPDATE: connectorMessageUpdate,
  ONIMCONNECTORMESSAGEDELETE: connectorMessageDelete,
  ONIMCONNECTORDIALOGSTART: connectorDialogStart,
  ONIMCONNECTORDIALOGFINISH: connectorDialogFinish,
  ONIMCONNECTORSTATUSDELETE: connectorStatusDelete,
  ONIMCONNECTORLINEDELETE: connectorLineDelete,
  ONOPENLINEMESSAGEADD: openLineMessageAdd,
  ONOPENLINEMESSAGEUPDATE: openLineMessageUpdate,
  ONOPENLINEMESSAGEDELETE: openLineMessageDelete,
  ONSESSIONSTART: sessionStart,
  ONSESSIONFINISH: sessionFinish,
  ONIMBOTMESSAGEADD: botMessageAdd,
  ONIMBOTMESSAGEUPDATE: botMessageUpdate,
  ONIMBOTMESSAGEDELETE: botMessageDelete,
  ONAPPINSTALL: appInstall,
  ONAPPUNINSTALL: appUninstall,
  ONAPPTEST: appTest,
  ...botV2Events,
  ...imV2Events,
} as const;

export type EventCode = keyof typeof eventSchemas;

/**
 * What parseEvent runs: a schema compiled by zod (z.compile), which falls back to the schema
 * itself for anything its generated code does not model, so answers are the same. Compiled on
 * first use: all of them at import added about 100 ms to every start.
 */
const compiled = new Map<string, z.ZodType>();
const compiledFor = <S extends z.ZodType>(key: string, schema: S): S => {
  let fast = compiled.get(key);
  if (!fast) compiled.set(key, (fast = z.compile(schema)));
  return fast as S;
};

/** The Open Lines connector events: what the built-in effects act on. */
export const connectorCodes = [
  'ONIMCONNECTORMESSAGEADD',
  'ONIMCONNECTORMESSAGEUPDATE',
  'ONIMCONNECTORMESSAGEDELETE',
  'ONIMCONNECTORDIALOGSTART',
  'ONIMCONNECTORDIALOGFINISH',
  'ONIMCONNECTORSTATUSDELETE',
  'ONIMCONNECTORLINEDELETE',
] as const satisfies readonly EventCode[];
/** The Chatbots 2.0 events: each comes by webhook or in an Event.get answer (see parseFetched). */
export const chatbotsV2Codes = [...Object.keys(botV2Events), ...Object.keys(imV2Events)] as (
  keyof typeof botV2Events | keyof typeof imV2Events
)[];
export type ChatbotsV2Code = (typeof chatbotsV2Codes)[number];
const v2Data: Record<ChatbotsV2Code, z.ZodType> = { ...botV2Data, ...imV2Data };

/** Each known event, typed by its code. */
export type EventMap = { [C in EventCode]: z.output<(typeof eventSchemas)[C]> };
export type KnownEvent = EventMap[EventCode];
export type UnknownEvent = z.output<typeof unknownEventSchema>;

export type ParsedEvent =
  { known: true; code: EventCode; event: KnownEvent } | { known: false; code: string; event: UnknownEvent };

/** Bitrix24 sends codes in upper case; its docs write them in camel case (`OnImConnectorMessageUpdate`). */
export const normalizeCode = (code: string): string => code.trim().toUpperCase();

export const isEventCode = (code: string): code is EventCode => Object.hasOwn(eventSchemas, code);

/** Validates a decoded body against its event's schema. An unknown code is kept, not refused. */
export function parseEvent(wire: WireObject): ParsedEvent {
  const raw = wire.event;
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new GatewayError('B24GW_MISSING_EVENT', 'Body has no event code in "event"', { path: 'event' });
  }
  const code = normalizeCode(raw);
  const input = raw === code ? wire : { ...wire, event: code };
  // A failure is parsed again with its inputs reported, to tell "missing" from "wrong": that
  // costs about 2 µs an event, so valid events are parsed without it.
  if (isEventCode(code)) {
    const result = compiledFor(code, eventSchemas[code]).safeParse(input);
    if (!result.success) throw invalid(code, eventSchemas[code].safeParse(input, { reportInput: true }).error!);
    return { known: true, code, event: result.data as KnownEvent };
  }
  const result = compiledFor('', unknownEventSchema).safeParse(input);
  if (!result.success) throw invalid(code, unknownEventSchema.safeParse(input, { reportInput: true }).error!);
  return { known: false, code, event: result.data };
}

/** One item of an `imbot.v2.Event.get` or `im.v2.Event.get` answer. */
const fetchedItem = z.looseObject({ eventId: int(), type: str(), date: str().optional(), data: z.unknown() });

export type FetchedEvent =
  | {
      [C in ChatbotsV2Code]: {
        known: true;
        code: C;
        eventId: number;
        date: string | undefined;
        data: EventMap[C]['data'];
      };
    }[ChatbotsV2Code]
  | { known: false; code: string; eventId: number; date: string | undefined; data: unknown };

/**
 * Validates one item of an Event.get answer (`{eventId, type, date, data}`, native JSON types).
 * Its `data` is read by the same schema as a webhook's `data[...]`, so a handler gets the same
 * typed object whichever way the event came; only `bot` differs (the full bot object, no `auth`).
 */
export function parseFetched(item: unknown): FetchedEvent {
  const head = compiledFor('fetched', fetchedItem).safeParse(item);
  if (!head.success) throw invalid('Event.get item', fetchedItem.safeParse(item, { reportInput: true }).error!);
  const { eventId, date } = head.data;
  const code = normalizeCode(head.data.type);
  const data = (item as { data?: unknown }).data;
  if (!Object.hasOwn(v2Data, code)) return { known: false, code, eventId, date, data };
  const schema = v2Data[code as ChatbotsV2Code];
  const result = compiledFor(`fetched:${code}`, schema).safeParse(data);
  if (!result.success) {
    const error = schema.safeParse(data, { reportInput: true }).error!;
    throw invalid(code, new z.ZodError(error.issues.map((i) => ({ ...i, path: ['data', ...i.path] }))));
  }
  return { known: true, code, eventId, date, data: result.data } as FetchedEvent;
}

function invalid(code: string, error: z.ZodError): GatewayError {
  const issues = error.issues.slice(0, 5).map((i) => {
    const where = bracketPath(i.path);
    return `${where || 'body'}: ${i.input === undefined ? 'required, but missing' : i.message}`;
  });
  const more = error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : '';
  return new GatewayError('B24GW_INVALID_EVENT', `${code} is invalid: ${issues.join('; ')}${more}`, {
    path: bracketPath(error.issues[0]?.path ?? []),
  });
}
