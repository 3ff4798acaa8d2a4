import { SandboxError } from '../errors.js';

/** One line on stderr, `error CODE: message`, no stack trace (unless B24SB_DEBUG is set), and exit 1. */
export function fail(e: unknown): never {
  if (process.env.B24SB_DEBUG) console.error(e);
  const { code, message } =
    e instanceof SandboxError ? e : new SandboxError('B24SB_INTERNAL', e instanceof Error ? e.message : String(e));
  console.error(`error ${code}: ${message.replace(/\s*\n\s*/g, ' ')}`);
  process.exit(1);
}

/** A command's action whose failures end in `fail`, wherever the command is mounted. */
export const action =
  <A extends unknown[]>(fn: (...args: A) => Promise<void> | void) =>
  (...args: A): Promise<void> =>
    Promise.resolve()
      .then(() => fn(...args))
      .catch(fail);
