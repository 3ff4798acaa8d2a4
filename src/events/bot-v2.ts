import { z } from 'zod';
import { botV2, commandV2, inChatV2, messageV2 } from './entities-v2.js';
import { envelope } from './envelope.js';
import { formObject, int, str } from './scalars.js';

/**
 * `data` of the Chatbots 2.0 bot events (imbot.v2 events.md), by code. The same schemas read a
 * webhook body and an `imbot.v2.Event.get` item's data (see fetched.ts).
 */
export const botV2Data = {
  ONIMBOTV2MESSAGEADD: z.looseObject({ bot: botV2, message: messageV2, ...inChatV2 }),
  // "The data format is identical to ONIMBOTV2MESSAGEADD."
  ONIMBOTV2MESSAGEUPDATE: z.looseObject({ bot: botV2, message: messageV2, ...inChatV2 }),
  ONIMBOTV2MESSAGEDELETE: z.looseObject({ bot: botV2, messageId: int(), ...inChatV2 }),
  ONIMBOTV2JOINCHAT: z.looseObject({ bot: botV2, dialogId: str(), ...inChatV2 }),
  ONIMBOTV2DELETE: z.looseObject({ bot: botV2 }),
  ONIMBOTV2CONTEXTGET: z.looseObject({ bot: botV2, dialogId: str(), context: formObject(), ...inChatV2 }),
  ONIMBOTV2COMMANDADD: z.looseObject({ bot: botV2, command: commandV2, message: messageV2, ...inChatV2 }),
  ONIMBOTV2REACTIONCHANGE: z.looseObject({
    bot: botV2,
    reaction: str(),
    action: str(),
    message: messageV2,
    ...inChatV2,
  }),
} as const;

/** The webhook POST of each: `{event, data, ts, auth}`, verified by the top-level `auth` only. */
export const botV2Events = {
  ONIMBOTV2MESSAGEADD: envelope('ONIMBOTV2MESSAGEADD', botV2Data.ONIMBOTV2MESSAGEADD),
  ONIMBOTV2MESSAGEUPDATE: envelope('ONIMBOTV2MESSAGEUPDATE', botV2Data.ONIMBOTV2MESSAGEUPDATE),
  ONIMBOTV2MESSAGEDELETE: envelope('ONIMBOTV2MESSAGEDELETE', botV2Data.ONIMBOTV2MESSAGEDELETE),
  ONIMBOTV2JOINCHAT: envelope('ONIMBOTV2JOINCHAT', botV2Data.ONIMBOTV2JOINCHAT),
  ONIMBOTV2DELETE: envelope('ONIMBOTV2DELETE', botV2Data.ONIMBOTV2DELETE),
  ONIMBOTV2CONTEXTGET: envelope('ONIMBOTV2CONTEXTGET', botV2Data.ONIMBOTV2CONTEXTGET),
  ONIMBOTV2COMMANDADD: envelope('ONIMBOTV2COMMANDADD', botV2Data.ONIMBOTV2COMMANDADD),
  ONIMBOTV2REACTIONCHANGE: envelope('ONIMBOTV2REACTIONCHANGE', botV2Data.ONIMBOTV2REACTIONCHANGE),
} as const;
