import { z } from 'zod';
import { envelope } from './envelope.js';
import { int, idList, str } from './scalars.js';

/** Ids of a message in Bitrix24. */
const im = z.looseObject({ chat_id: int(), message_id: int() });
/** The chat in the external channel. */
const externalChat = z.looseObject({ id: str() });

/**
 * The connector pages name the list `MESSAGES` and the dialog pages `DATA`; either is
 * accepted and kept under the name it came with. Read it with `itemsOf`.
 */
const connectorData = <T extends z.ZodType>(item: T) =>
  z
    .looseObject({ CONNECTOR: str(), LINE: int(), MESSAGES: z.array(item).optional(), DATA: z.array(item).optional() })
    .refine((d) => d.MESSAGES !== undefined || d.DATA !== undefined, {
      message: 'expected a list under data[MESSAGES] (or data[DATA])',
      path: ['MESSAGES'],
    });

export const connectorMessageUpdate = envelope(
  'ONIMCONNECTORMESSAGEUPDATE',
  connectorData(z.looseObject({ im, message: z.looseObject({ id: idList(), text: str().optional() }), chat: externalChat })),
);

export const connectorMessageDelete = envelope(
  'ONIMCONNECTORMESSAGEDELETE',
  // Documented as one string; a list is accepted too and kept as sent.
  connectorData(z.looseObject({ im, message: z.looseObject({ id: z.union([str(), z.array(str())]) }), chat: externalChat })),
);

export const connectorDialogStart = envelope(
  'ONIMCONNECTORDIALOGSTART',
  connectorData(
    z.looseObject({
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
    }),
  ),
);
