import { z } from 'zod';
import { authSchema } from './auth.js';
import { int, str } from './scalars.js';

/**
 * The envelope every event shares. The docs show the handler id as `event_handler_id`
 * on some pages and `eventId` on others; both are accepted and kept as sent.
 */
export const envelope = <C extends string, D extends z.ZodType, A extends z.ZodType = typeof authSchema>(
  code: C,
  data: D,
  auth?: A,
) =>
  z.looseObject({
    event: z.literal(code),
    event_handler_id: int().optional(),
    eventId: int().optional(),
    data,
    ts: int(),
    auth: (auth ?? authSchema) as A,
  });

/** What the gateway keeps of an event whose code it does not know. */
export const unknownEventSchema = z.looseObject({
  event: str(),
  event_handler_id: int().optional(),
  eventId: int().optional(),
  data: z.unknown().optional(),
  ts: int().optional(),
  auth: authSchema,
});
