import { z } from 'zod';
import { envelope } from './envelope.js';
import { withItems } from './lists.js';
import { int, maybeEmptyIdList, str } from './scalars.js';

/** Ids of a message in Bitrix24. */
export const im = z.looseObject({ chat_id: int(), message_id: int() });
/** The chat in the external channel. */
export const externalChat = z.looseObject({ id: str() });
/** The connector and line an event's items belong to. */
export const lineHead = { CONNECTOR: str(), LINE: int() };
/** A deleted message's id: documented as one string; a list is accepted too and kept as sent. */
export const deletedId = () => z.union([str(), z.array(str())]);

const connectorData = <T extends z.ZodType>(item: T) => withItems(lineHead, item, 'MESSAGES');

/** An operator's message to deliver: it has no external id yet, so `message` carries none. */
export const connectorMessageAdd = envelope(
  'ONIMCONNECTORMESSAGEADD',
  connectorData(
    z.looseObject({ im, message: z.looseObject({ user_id: int().optional(), text: str() }), chat: externalChat }),
  ),
);

export const connectorMessageUpdate = envelope(
  'ONIMCONNECTORMESSAGEUPDATE',
  connectorData(
    z.looseObject({
      im,
      message: z.looseObject({ id: maybeEmptyIdList(), text: str().optional() }),
      chat: externalChat,
    }),
  ),
);

export const connectorMessageDelete = envelope(
  'ONIMCONNECTORMESSAGEDELETE',
  connectorData(z.looseObject({ im, message: z.looseObject({ id: deletedId() }), chat: externalChat })),
);

/**
 * One dialog or session: shared by the connector dialog events and the open line session events.
 * The pages call the chat and user ids integers, yet describe them as the external system's: kept as strings.
 */
export const dialogItem = z.looseObject({
  connector: z.looseObject({
    connector_id: str(),
    line_id: int(),
    chat_id: str().optional(),
    user_id: str().optional(),
  }),
  session: z.looseObject({
    id: int(),
    closed: str().optional(),
    parent_id: int().optional(),
    close_term: int().optional(),
  }),
  chat: externalChat,
  user: z.looseObject({ id: str() }).optional(),
});

// The dialog pages type LINE as a string ("105") but line_id as an integer; both are the line id, so LINE is an integer here.
export const connectorDialogStart = envelope('ONIMCONNECTORDIALOGSTART', connectorData(dialogItem));
export const connectorDialogFinish = envelope('ONIMCONNECTORDIALOGFINISH', connectorData(dialogItem));

/** Lower-case keys on this page only. */
export const connectorStatusDelete = envelope(
  'ONIMCONNECTORSTATUSDELETE',
  z.looseObject({ connector: str(), line: int() }),
);

/** `data` is the bare id of the deleted line (the form body is just `data=107`). */
export const connectorLineDelete = envelope('ONIMCONNECTORLINEDELETE', int());
