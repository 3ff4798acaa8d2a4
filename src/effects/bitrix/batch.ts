import type { AjaxResult, ICallBatchResult, TypeHttp } from '@bitrix24/b24jssdk';
import { BitrixApiError } from './errors.js';

/** Bitrix24 runs at most 50 commands in one `batch` request. */
export const MAX_BATCH_COMMANDS = 50;

export interface BatchCall {
  method: string;
  params?: Record<string, unknown>;
}

export type BatchItem<T = unknown> = { ok: true; result: T } | { ok: false; error: BitrixApiError };

/** What a command answers when `halt` is set and an earlier command failed: it was never sent. */
export const haltedItem = (c: BatchCall): BatchItem => ({
  ok: false,
  error: new BitrixApiError({
    method: c.method,
    code: 'B24GW_BATCH_HALTED',
    httpStatus: 0,
    description: 'not run: an earlier command failed (halt)',
  }),
});

export interface BatchResult {
  /** One per call, in the order given. */
  items: BatchItem[];
  /** How many `batch` HTTP requests it took. */
  requests: number;
}

export interface BatchHooks {
  /** Maps a failed command's error (SDK shape) to a BitrixApiError naming the command's method. */
  toError: (e: unknown, method: string) => BitrixApiError;
  /** Sees each successful command's `time` block (for operating_reset_at). */
  onTime?: (method: string, time: unknown) => void;
}

/**
 * Sends up to 50 calls as one `batch` (cmd is a map c0..cN of "method?query" strings, which
 * the SDK builds with PHP-style brackets) and reads each command's result or result_error.
 */
export async function sendBatch(
  http: TypeHttp,
  calls: readonly BatchCall[],
  halt: boolean,
  hooks: BatchHooks,
): Promise<BatchItem[]> {
  if (calls.length === 0) return [];
  if (calls.length > MAX_BATCH_COMMANDS) throw new RangeError(`a batch takes at most ${MAX_BATCH_COMMANDS} commands`);
  const named: Record<string, { method: string; params: Record<string, unknown> }> = {};
  calls.forEach((c, i) => (named[`c${i}`] = { method: c.method, params: c.params ?? {} }));
  const res = await http.batch(named, { isHaltOnError: halt });
  const rows = (res.getData() as ICallBatchResult | null | undefined)?.result;
  // No per-command rows: the batch request itself failed.
  if (!rows || rows.size === 0) {
    const first = res.getErrors().next();
    if (!first.done) throw first.value;
  }
  return calls.map((c, i): BatchItem => {
    const row = rows?.get(`c${i}`) as AjaxResult | undefined;
    if (!row) {
      const description = halt
        ? 'not run: an earlier command of the batch failed (halt)'
        : 'the batch answer has no result for this command';
      return {
        ok: false,
        error: new BitrixApiError({
          method: c.method,
          code: halt ? 'B24GW_BATCH_HALTED' : 'B24GW_ANSWER_REFUSED',
          httpStatus: 0,
          description,
        }),
      };
    }
    if (!row.isSuccess) {
      const first = row.getErrors().next();
      return { ok: false, error: hooks.toError(first.done ? new Error('command failed') : first.value, c.method) };
    }
    const data = row.getData();
    if (data?.time) hooks.onTime?.(c.method, data.time);
    return { ok: true, result: data?.result };
  });
}
