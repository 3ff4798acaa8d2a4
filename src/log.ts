import pino, { type Logger } from 'pino';
import { REDACTED, secretNames } from './wire/redact.js';

export type { Logger };

/** Blocks that hold nothing but credentials: an event's `auth`, a bot's `AUTH` (v1) and `auth` (v2). */
const authBlocks: ReadonlySet<string> = new Set(['auth', 'AUTH', 'webhooks']);
/** A bot's botToken and an incoming webhook (its URL holds its secret) are secrets in any log line. */
const logSecretNames: ReadonlySet<string> = new Set([
  ...secretNames,
  'botToken',
  'bot_token',
  'webhookUrl',
  'pullWebhook',
]);

const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

/**
 * A copy of a log line's object with every secret name and every auth block replaced, at any
 * depth, as a second line of defence: the gateway's own log lines never carry tokens in the
 * first place. A copy, because a handler that logs `ctx.bot` still answers with its auth (pino's
 * own redaction rewrote such objects in place, and stopped at a fixed depth).
 */
export function redactForLog(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  const list = Array.isArray(value);
  if (!list && !isPlain(value)) return value; // scalars, and errors and the like, which pino serializes itself
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  let out: Record<string, unknown> | unknown[] | undefined;
  const entries = Object.entries(value);
  for (const [key, child] of entries) {
    const secret =
      !list &&
      (authBlocks.has(key)
        ? typeof child === 'object' && child !== null
        : logSecretNames.has(key) && typeof child === 'string');
    const next = secret ? REDACTED : redactForLog(child, seen);
    if (next !== child) {
      out ??= list ? [...(value as unknown[])] : { ...value };
      (out as Record<string, unknown>)[key] = next;
    }
  }
  seen.delete(value);
  return out ?? value;
}

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      formatters: { log: (object) => redactForLog(object) as Record<string, unknown> },
      base: { name: 'b24-im-gateway' },
    },
    options.destination,
  );
}

/** For library use without logs. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** What a library user may give as `logger`: a pino logger, a level, or false for none. */
export type LoggerOption = Logger | pino.LevelWithSilent | false;

/** The logger an option stands for. Default: JSON lines on stdout at `B24GW_LOG_LEVEL`, else `LOG_LEVEL`, else info. */
export function loggerFrom(option: LoggerOption | undefined): Logger {
  if (option === false) return silentLogger;
  if (option === undefined) return createLogger({ level: process.env.B24GW_LOG_LEVEL || undefined });
  return typeof option === 'string' ? createLogger({ level: option }) : option;
}
