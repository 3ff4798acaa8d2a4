import { SandboxError } from '../errors.js';

/** One line on stderr, `error CODE: message`, no stack trace (unless B24SB_DEBUG is set), and exit 1. */
export function fail(e: unknown): never {
  if (process.env.B24SB_DEBUG) console.error(e);
  const error = e instanceof SandboxError ? e : new SandboxError('B24SB_INTERNAL', e instanceof Error ? e.message : String(e));
  console.error(`error ${error.code}: ${error.message}`.replace(/\s*\n\s*/g, ' '));
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
