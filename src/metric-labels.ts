import { KNOWN_ERROR_CODES } from './effects/bitrix/errors.js';
import { refusalReasons } from './verify/refuse.js';
import { errorCodes } from './errors.js';
import { isEventCode } from './events/registry.js';

// Metric labels take known values only: every new value is a new series kept for the life of the
// process, so a sender inventing codes (or a handler calling made-up methods) must not grow /metrics.

export const OTHER = 'other';

/** An event code the gateway knows, else `unknown`. */
export const eventLabel = (code: string): string => (isEventCode(code) ? code : 'unknown');

/** A refusal's code: one of the gateway's own, else `other`. */
/** A gateway error code, or the reason a verification failed (see verify/refuse.ts), else `other`. */
export const reasonLabel = (code: string): string =>
  Object.hasOwn(errorCodes, code) || (refusalReasons as readonly string[]).includes(code) ? code : OTHER;

/** `ok`, a known Bitrix24/OAuth error code, or the gateway's own code, else `other`. */
export const restResultLabel = (result: string): string =>
  result === 'ok' || KNOWN_ERROR_CODES.has(result) || Object.hasOwn(errorCodes, result) ? result : OTHER;

/** What a REST method name looks like: dotted words (`imconnector.send.status.delivery`, `imbot.v2.Chat.Message.send`). */
const METHOD_SHAPE = /^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*$/i;
export const MAX_METHOD_LENGTH = 64;
/** Distinct method labels one registry keeps; methods past these are counted as `other`. */
export const MAX_METHODS = 100;

/**
 * Method labels: a name of a REST method's shape and length, at most MAX_METHODS distinct ones
 * (the methods a gateway calls are a few dozen), else `other`.
 */
export function methodLabels(): (method: string) => string {
  const seen = new Set<string>();
  return (method) => {
    if (seen.has(method)) return method;
    if (method.length > MAX_METHOD_LENGTH || !METHOD_SHAPE.test(method) || seen.size >= MAX_METHODS) return OTHER;
    seen.add(method);
    return method;
  };
}
