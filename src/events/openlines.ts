import { z } from 'zod';
import { envelope } from './envelope.js';
import { int, idList, str } from './scalars.js';

const item = z.looseObject({
  im: z.looseObject({ chat_id: int(), message_id: int() }),
  // The page gives no types for these; strings keep every value exactly, and the id is a list as in every update.
  message: z.looseObject({ id: idList() }),
  chat: z.looseObject({ id: str() }),
});

export const openLineMessageUpdate = envelope(
  'ONOPENLINEMESSAGEUPDATE',
  z
    .looseObject({ CONNECTOR: str(), LINE: int(), DATA: z.array(item).optional(), MESSAGES: z.array(item).optional() })
    .refine((d) => d.DATA !== undefined || d.MESSAGES !== undefined, {
      message: 'expected a list under data[DATA] (or data[MESSAGES])',
      path: ['DATA'],
    }),
);
