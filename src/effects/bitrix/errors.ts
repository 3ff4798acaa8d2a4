/** Codes the client answers with backoff and, past its budget, hands to the worker with retryAfterMs. */
export const LIMIT_CODES: ReadonlySet<string> = new Set(['QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT']);

export interface BitrixApiErrorInit {
  /** REST method, `batch`, or `oauth/token`. */
  method: string;
  code: string;
  status: number;
  description?: string;
  retryAfterMs?: number;
  memberId?: string;
}

/**
 * A Bitrix24 REST or OAuth failure. The message names the method and the Bitrix24 code and
 * description; it never carries tokens (descriptions are scrubbed before they get here).
 */
export class BitrixApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryAfterMs?: number;
  readonly method: string;
  readonly memberId?: string;
  /** Bitrix24's error_description (scrubbed), or what the gateway saw. */
  readonly description: string;

  constructor(init: BitrixApiErrorInit) {
    const where = init.memberId ? ` for portal ${init.memberId}` : '';
    const desc = init.description ? `: ${init.description}` : '';
    const http = init.status ? ` (HTTP ${init.status})` : '';
    const retry = init.retryAfterMs !== undefined ? `; retry in ${Math.ceil(init.retryAfterMs / 1000)} s` : '';
    super(`Bitrix24 ${init.method}${where} failed with ${init.code}${desc}${http}${retry}`);
    this.name = 'BitrixApiError';
    this.code = init.code;
    this.status = init.status;
    this.method = init.method;
    this.description = init.description ?? '';
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.memberId !== undefined) this.memberId = init.memberId;
  }
}

/** Replaces every known secret in a text that came from outside (an error description). */
export function scrub(text: string, secrets: Iterable<string | null | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 8) out = out.split(s).join('[redacted]');
  // Anything that still looks like `auth=…` or `access_token: …` loses its value too.
  return out.replace(/\b(auth|access_token|refresh_token|client_secret)(["']?\s*[=:]\s*["']?)[^\s"'&,;}]+/gi, '$1$2[redacted]');
}

export interface ErrorContext {
  method: string;
  memberId?: string;
  secrets: Iterable<string>;
  now: () => number;
  /** Overrides the HTTP status (a command inside a batch has none of its own). */
  status?: number;
}

/**
 * Turns whatever the SDK or the transport threw into a BitrixApiError. For
 * OPERATION_TIME_LIMIT the answer's `time.operating_reset_at` becomes retryAfterMs.
 */
export function toApiError(e: unknown, ctx: ErrorContext): BitrixApiError {
  if (e instanceof BitrixApiError) return e;
  const original = (e as { originalError?: unknown } | null)?.originalError;
  if (original instanceof BitrixApiError) return original;
  const fields = (e ?? {}) as { code?: unknown; status?: unknown };
  const code = typeof fields.code === 'string' && fields.code ? fields.code : typeof fields.code === 'number' ? String(fields.code) : 'ERROR_UNKNOWN';
  const status = ctx.status ?? (typeof fields.status === 'number' ? fields.status : 0);
  const description = scrub(e instanceof Error ? e.message : String(e), ctx.secrets);
  const body = (original as { response?: { data?: unknown } } | undefined)?.response?.data as
    | { time?: { operating_reset_at?: unknown }; operating_reset_at?: unknown }
    | undefined;
  const resetAt = Number(body?.time?.operating_reset_at ?? body?.operating_reset_at);
  const retryAfterMs = code === 'OPERATION_TIME_LIMIT' && resetAt > 0 ? Math.max(0, resetAt * 1000 - ctx.now()) + 1000 : undefined;
  return new BitrixApiError({ method: ctx.method, memberId: ctx.memberId, code, status, description, retryAfterMs });
}
