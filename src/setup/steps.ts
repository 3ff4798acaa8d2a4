import type { BatchCall } from '../effects/bitrix/batch.js';
import type { PortalClient } from '../effects/bitrix/client.js';
import { BitrixApiError } from '../effects/bitrix/errors.js';
import { GatewayError } from '../errors.js';

/** What setup and teardown report, and how they write: every change in one batch that stops at the first failure. */

/** One thing setup did (or would do, or found done). */
export interface SetupStep {
  /** `done`: called; `planned`: a dry run's call; `kept`: already so, nothing called. */
  outcome: 'done' | 'planned' | 'kept';
  method: string;
  params: Record<string, unknown>;
  /** In words, for people. */
  summary: string;
}

export interface SetupReport {
  steps: SetupStep[];
}

/** A call setup makes, in words, and how to tell a refusal that comes as HTTP 200. */
export interface WriteCall {
  call: BatchCall;
  summary: string;
  /** A refusal in a successful answer (imconnector.register's `result.result = false`), in words; undefined when it succeeded. */
  check?: (result: unknown) => string | undefined;
}

/** The calls in one batch that stops at the first failure; a dry run only lists them. */
export async function writeSteps(
  client: PortalClient,
  calls: WriteCall[],
  dryRun = false,
  before: readonly SetupStep[] = [],
): Promise<SetupStep[]> {
  const step = (c: (typeof calls)[number], outcome: SetupStep['outcome']): SetupStep => ({
    outcome,
    method: c.call.method,
    params: c.call.params ?? {},
    summary: c.summary,
  });
  if (dryRun || calls.length === 0) return calls.map((c) => step(c, 'planned'));
  let answer;
  try {
    answer = await client.batch(
      calls.map((c) => c.call),
      true,
    );
  } catch (e) {
    throw setupFailed(e, before);
  }
  const done: SetupStep[] = [];
  for (const [i, c] of calls.entries()) {
    const it = answer.items[i]!;
    const refused = it.ok ? c.check?.(it.result) : undefined;
    if (!it.ok || refused !== undefined) {
      const error = it.ok
        ? new BitrixApiError({
            method: c.call.method,
            code: 'B24GW_NOT_ACCEPTED',
            httpStatus: 200,
            description: refused ?? '',
          })
        : it.error;
      throw setupFailed(error, [...before, ...done]);
    }
    done.push(step(c, 'done'));
  }
  return done;
}

export function setupFailed(e: unknown, done: readonly SetupStep[]): GatewayError {
  const before = done.length === 0 ? 'nothing was changed' : `done before it: ${done.map((d) => d.summary).join('; ')}`;
  const message = e instanceof Error ? e.message : String(e);
  return new GatewayError('B24GW_SETUP_FAILED', `${message} (${before})`, { cause: e });
}
