import { GatewayError } from '../../errors.js';
import { eventSchemas, type EventMap } from '../../events/registry.js';
import { bracketPath } from '../../events/scalars.js';
import type { Tx } from '../sql.js';
import { applyDialogFinish, applyDialogStart } from './dialogs.js';
import { applyLineDelete, applyStatusDelete } from './lines.js';
import { applyMessageAdd, applyMessageDelete, applyMessageUpdate } from './messages.js';

/*
 * Only the connector events change the state. Left out on purpose:
 * - ONOPENLINEMESSAGEUPDATE/DELETE carry no text, and their ids are the open line's
 *   (the page's example has message.id = im.message_id), not the connector's external ids;
 * - ONSESSIONSTART/FINISH describe the same sessions as the connector dialog events, from the open line side;
 * - bot and app events are not about a connector.
 */
const appliers: { [C in keyof EventMap]?: (tx: Tx, data: EventMap[C]['data']) => void } = {
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

/**
 * Applies one event's data. It is parsed again with the event's own schema: the worker hands over
 * stored JSON, and re-parsing a typed event gives the same value, while a raw one gets its ints converted.
 */
export function applyData(tx: Tx, code: StateCode, data: unknown): void {
  const result = eventSchemas[code].shape.data.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = bracketPath(['data', ...(issue?.path ?? [])]);
    throw new GatewayError('B24GW_INVALID_EVENT', `${code} cannot be applied to the connector state: ${where}: ${issue?.message ?? 'invalid'}`, {
      path: where,
    });
  }
  // The mapped type pairs each code with its data; TypeScript cannot follow that through a variable code.
  (appliers[code] as (tx: Tx, data: unknown) => void)(tx, result.data);
}
