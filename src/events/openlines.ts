import { z } from 'zod';
import { deletedId, dialogItem, externalChat as chat, im, lineHead } from './connector.js';
import { envelope } from './envelope.js';
import { withItems } from './lists.js';
import { absentIfEmpty, int, maybeEmptyIdList, str } from './scalars.js';

/*
 * The open line pages type chat and message ids as integers, but with a custom connector they are
 * the external channel's ids, so they stay strings as in the connector events. Bitrix24's own
 * integers (im ids, line ids, message.user_id) become numbers.
 */
/** The update and delete pages have CONNECTOR and LINE (lineHead); the add and session pages do not show them. */
const maybeLineHead = { CONNECTOR: str().optional(), LINE: int().optional() };

export const openLineMessageAdd = envelope(
  'ONOPENLINEMESSAGEADD',
  withItems(
    maybeLineHead,
    z.looseObject({
      connector: z.looseObject({ connector_id: str(), line_id: int(), chat_id: str(), user_id: str() }),
      chat,
      message: z.looseObject({
        id: str(),
        date: str(),
        text: str(),
        // files, ref and extra are documented as required, but an empty array or object vanishes from a form body.
        files: absentIfEmpty(z.array(z.unknown())),
        attach: str(),
        system: str(),
        user_id: int(),
      }),
      ref: absentIfEmpty(z.array(z.unknown())),
      extra: absentIfEmpty(z.looseObject({ EXTRA_URL: str() })),
    }),
    'DATA',
  ),
);

export const openLineMessageUpdate = envelope(
  'ONOPENLINEMESSAGEUPDATE',
  // The id is a list, as in every update.
  withItems(lineHead, z.looseObject({ im, message: z.looseObject({ id: maybeEmptyIdList() }), chat }), 'DATA'),
);

export const openLineMessageDelete = envelope(
  'ONOPENLINEMESSAGEDELETE',
  // One id, as in the connector delete.
  withItems(lineHead, z.looseObject({ im, message: z.looseObject({ id: deletedId() }), chat }), 'DATA'),
);

export const sessionStart = envelope('ONSESSIONSTART', withItems(maybeLineHead, dialogItem, 'DATA'));
export const sessionFinish = envelope('ONSESSIONFINISH', withItems(maybeLineHead, dialogItem, 'DATA'));
