import pino, { type Logger } from 'pino';
import { REDACTED, secretNames } from './wire/redact.js';

export type { Logger };

/**
 * Every secret name is redacted wherever it sits, as a second line of defence:
 * the gateway's own log lines never carry tokens in the first place.
 */
export const redactPaths = [
  ...[...secretNames].flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
  'auth',
  '*.auth',
  'AUTH',
  '*.AUTH',
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    { level: options.level ?? process.env.LOG_LEVEL ?? 'info', redact: { paths: redactPaths, censor: REDACTED }, base: { name: 'b24-im-gateway' } },
    options.destination,
  );
}

/** For library use without logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
