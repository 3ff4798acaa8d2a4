import { isGatewayError } from '../errors.js';

/** One line on stderr, no stack trace (unless B24GW_DEBUG is set), and a non-zero exit. */
export function fail(e: unknown): never {
  if (process.env.B24GW_DEBUG) console.error(e);
  const line = isGatewayError(e)
    ? `error ${e.code}: ${e.message}`
    : `error B24GW_INTERNAL: ${e instanceof Error ? e.message : String(e)}`;
  console.error(line.replace(/\s*\n\s*/g, ' '));
  process.exit(1);
}

/** Runs a command's action and turns any failure into `fail`. */
export const action =
  <A extends unknown[]>(fn: (...args: A) => Promise<void> | void) =>
  async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (e) {
      fail(e);
    }
  };
