import { eventLimit, readQueues } from '../event-queue.js';
import { asInt } from '../rest/params.js';
import type { MethodHandler } from './context.js';

/**
 * im.v2.Event.*: a user's event log. Only a subscribed user's events are recorded; they are kept
 * 24 hours or until confirmed, and unsubscribing stops the recording, not the reading.
 */

const DAY_MS = 24 * 3600_000;

/** im.v2.Event.subscribe: idempotent. */
export const eventSubscribe: MethodHandler = ({ portal, userId }) => {
  portal.chatbots.user(userId).subscribed = true;
  return true;
};

/** im.v2.Event.unsubscribe: idempotent; what was recorded stays readable. */
export const eventUnsubscribe: MethodHandler = ({ portal, userId }) => {
  portal.chatbots.user(userId).subscribed = false;
  return true;
};

/** im.v2.Event.get: as imbot.v2.Event.get, on the calling user's log; no errors of its own (an empty list without a subscription). */
export const eventGet: MethodHandler = ({ portal, userId, raw, core }) => {
  const user = portal.chatbots.user(userId);
  user.queue.expire(core.clock.now() - DAY_MS);
  return readQueues([user.queue], asInt(raw.offset), eventLimit(asInt(raw.limit)), portal.chatbots.peekEventId());
};
