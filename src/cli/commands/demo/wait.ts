// Waiting for the gateway's effects, and the interruption (SIGINT/SIGTERM) that ends a wait.

import { GatewayError } from '../../../errors.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Interrupted extends GatewayError {
  constructor() {
    super('B24GW_ABORTED', 'interrupted');
    this.name = 'Interrupted';
  }
}

/**
 * Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`,
 * or at once when `gone` says the process that should do the work has exited.
 */
export async function until<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs: number,
  signal?: AbortSignal,
  gone?: () => string | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new Interrupted();
    const why = gone?.();
    if (why) throw new GatewayError('B24GW_DEMO_FAILED', `the gateway process ${why} while waiting for ${what}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new GatewayError(
        'B24GW_DEMO_FAILED',
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`,
      );
    await sleep(25);
  }
}
