import { z } from 'zod';
import { inChatV2, messageV2 } from './entities-v2.js';
import { envelope } from './envelope.js';
import { int, str } from './scalars.js';

/**
 * `data` of the Chatbots 2.0 user events (im.v2 events.md), by code. The docs deliver them by
 * `im.v2.Event.get` (or with a bot's `withUserEvents`); a webhook wrapper, should one come, is read
 * as any other event.
 */
export const imV2Data = {
  ONIMV2MESSAGEADD: z.looseObject({ message: messageV2, ...inChatV2 }),
  ONIMV2MESSAGEUPDATE: z.looseObject({ message: messageV2, ...inChatV2 }),
  ONIMV2MESSAGEDELETE: z.looseObject({ messageId: int(), ...inChatV2 }),
  ONIMV2REACTIONCHANGE: z.looseObject({ reaction: str(), action: str(), message: messageV2, ...inChatV2 }),
  ONIMV2JOINCHAT: z.looseObject({ dialogId: str(), ...inChatV2 }),
} as const;

export const imV2Events = {
  ONIMV2MESSAGEADD: envelope('ONIMV2MESSAGEADD', imV2Data.ONIMV2MESSAGEADD),
  ONIMV2MESSAGEUPDATE: envelope('ONIMV2MESSAGEUPDATE', imV2Data.ONIMV2MESSAGEUPDATE),
  ONIMV2MESSAGEDELETE: envelope('ONIMV2MESSAGEDELETE', imV2Data.ONIMV2MESSAGEDELETE),
  ONIMV2REACTIONCHANGE: envelope('ONIMV2REACTIONCHANGE', imV2Data.ONIMV2REACTIONCHANGE),
  ONIMV2JOINCHAT: envelope('ONIMV2JOINCHAT', imV2Data.ONIMV2JOINCHAT),
} as const;
