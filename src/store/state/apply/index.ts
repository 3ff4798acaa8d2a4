import { GatewayError } from '../../../errors.js';
import { eventSchemas, normalizeCode, type EventMap } from '../../../events/registry.js';
import { bracketPath } from '../../../events/scalars.js';
import { run, type Work } from '../../sql/work.js';
import type { StateEvent } from '../types.js';
import { applyDialogFinish, applyDialogStart } from './dialogs.js';
import { applyLineDelete, applyStatusDelete, type ApplyMeta } from './lines.js';
import { applyMessageAdd, applyMessageDelete, applyMessageUpdate } from './messages.js';

/*
 * Only the connector events change the state. Left out on purpose:
 * - ONOPENLINEMESSAGEUPDATE/DELETE carry no text, and their ids are the open line's
 *   (the page's example has message.id = im.message_id), not the connector's external ids;
 * - ONSESSIONSTART/FINISH describe the same sessions as the connector dialog events, from the open line side;
 * - bot and app events are not about a connector.
 */
const appliers: { [C in keyof EventMap]?: (meta: ApplyMeta, data: EventMap[C]['data']) => Work<void> } = {
  ONIMCONNECTORMESSAGEADD: applyMessageAdd,
  ONIMCONNECTORMESSAGEUPDATE: applyMessageUpdate,
  ONIMCONNECTORMESSAGEDELETE: applyMessageDelete,
  ONIMCONNECTORDIALOGSTART: applyDialogStart,
  ONIMCONNECTORDIALOGFINISH: applyDialogFinish,
  ONIMCONNECTORSTATUSDELETE: applyStatusDelete,
  ONIMCONNECTORLINEDELETE: applyLineDelete,
};

export type StateCode = keyof typeof appliers;

export const isStateCode = (code: string): code is StateCode => Object.hasOwn(appliers, code);

/** The event's code if it concerns the state. Codes are compared as Bitrix24 sends them: upper case. */
export function stateCodeOf(event: StateEvent): StateCode | undefined {
  const code = typeof event.event === 'string' ? normalizeCode(event.event) : '';
  return isStateCode(code) ? code : undefined;
}

/**
 * Applies one event's data. It is parsed again with the event's own schema: the worker hands over
 * stored JSON, and re-parsing a typed event gives the same value, while a raw one gets its ints converted.
 */
export function* applyData(meta: ApplyMeta, code: StateCode, data: unknown): Work<void> {
  const result = eventSchemas[code].shape.data.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = bracketPath(['data', ...(issue?.path ?? [])]);
    throw new GatewayError(
      'B24GW_INVALID_EVENT',
      `${code} cannot be applied to the connector state: ${where}: ${issue?.message ?? 'invalid'}`,
      {
        path: where,
      },
    );
  }
  // The mapped type pairs each code with its data; TypeScript cannot follow that through a variable code.
  yield* (appliers[code] as (meta: ApplyMeta, data: unknown) => Work<void>)(meta, result.data);
}

/**
 * One event applied, to run in one transaction: the applied mark first, and nothing more if it was
 * already there. On PostgreSQL the insert waits for another instance applying the same event, and
 * then finds its mark: the event is applied once. Throws (the caller rolls back) on invalid data.
 */
export function* applyEvent(code: StateCode, data: unknown, meta: ApplyMeta): Work<boolean> {
  const fresh = yield* run(
    'INSERT INTO state_applied (event_id, member_id, code, applied_at) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING',
    meta.eventId,
    meta.memberId,
    code,
    Date.now(),
  );
  if (fresh === 0) return false;
  yield* applyData(meta, code, data);
  return true;
}
