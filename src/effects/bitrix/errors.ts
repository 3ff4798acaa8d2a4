import { GatewayError, type ErrorCode } from '../../errors.js';
import type { RetryHint } from '../../queue/schedule.js';
import { REDACTED } from '../../wire/redact.js';
/** Codes the client answers with backoff and, past its budget, hands to the worker with retryAfterMs. */
export const LIMIT_CODES: ReadonlySet<string> = new Set(['QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT']);

/**
 * Every error code a REST or OAuth failure is known to carry: those documented for the methods
 * and the authorization server the gateway uses (docs/ in the Bitrix24 REST documentation), the
 * common REST ones, the SDK's transport failures, and the gateway's own. Metrics name these; any
 * other code a portal sends is counted as `other`, so a portal cannot grow /metrics without end.
 */
export const KNOWN_ERROR_CODES: ReadonlySet<string> = new Set([
  // limits
  'QUERY_LIMIT_EXCEEDED',
  'OPERATION_TIME_LIMIT',
  // common REST answers
  'expired_token',
  'invalid_token',
  'NO_AUTH_FOUND',
  'INVALID_CREDENTIALS',
  'insufficient_scope',
  'ACCESS_DENIED',
  'WRONG_AUTH_TYPE',
  'ERROR_METHOD_NOT_FOUND',
  'ERROR_ARGUMENT',
  'INTERNAL_SERVER_ERROR',
  'ERROR_CORE',
  'PAYMENT_REQUIRED',
  'SCOPE_ERROR',
  'AUTH_ERROR',
  'ERROR_BATCH_LENGTH_EXCEEDED',
  'ERROR_BATCH_METHOD_NOT_ALLOWED',
  'ERROR_EVENT_NOT_FOUND',
  'ERROR_HANDLER_ALREADY_EXIST',
  // the authorization server (oauth.bitrix.info)
  'invalid_request',
  'invalid_client',
  'invalid_scope',
  'invalid_grant',
  // imconnector.*
  'NOT_ACTIVE_LINE',
  'IMCONNECTOR_NO_CORRECT_PROVIDER',
  'IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND',
  'CHAT_RENAMING_FAILED',
  'APPLICATION_REGISTRATION_ERROR',
  'APPLICATION_REGISTRATION_ERROR_POINT',
  'APPLICATION_UNREGISTRATION_ERROR',
  'CONNECTOR_ID_REQUIRED',
  'NAME_REQUIRED',
  'ICON_REQUIRED',
  'NO_APPLICATION_ID',
  'NO_PLACEMENT_HANDLER',
  'GENERAL_CONNECTOR_REGISTRATION_ERROR',
  // imbot.*
  'BOT_NOT_FOUND',
  'BOT_ID_REQUIRED',
  'BOT_OWNERSHIP_ERROR',
  'BOT_TOKEN_NOT_SPECIFIED',
  'BOT_CODE_REQUIRED',
  'BOT_CODE_ALREADY_TAKEN',
  'BOT_INVALID_TYPE',
  'BOT_INVALID_EVENT_MODE',
  'BOT_INVALID_CALLBACK',
  'BOT_LIMIT_EXCEEDED',
  'BOT_REGISTER_FAILED',
  'BOT_UNREGISTER_FAILED',
  'BOT_PROPERTIES_REQUIRED',
  'BOT_WEBHOOK_URL_REQUIRED',
  'BOT_TOKEN_ROTATION_FAILED',
  'BOT_TOKEN_INVALID_LENGTH',
  'BOT_AVATAR_INCORRECT_SIZE',
  'BOT_AVATAR_INCORRECT_TYPE',
  'MESSAGE_NOT_FOUND',
  'EMPTY_MESSAGE',
  'PARAMS_REQUIRED',
  'SENDING_FAILED',
  'USER_NOT_SUBSCRIBED',
  'COMMAND_REQUIRED',
  'COMMAND_TITLE_REQUIRED',
  'COMMAND_NAME_INVALID',
  'COMMAND_REGISTER_FAILED',
  'COMMAND_ANSWER_FAILED',
  // the SDK's transport
  'NETWORK_ERROR',
  'REQUEST_TIMEOUT',
  'JSSDK_INTERNAL_AJAX_ERROR',
  'JSSDK_UNKNOWN_ERROR',
  'JSSDK_CALL_ALL_ATTEMPTS_EXHAUSTED',
]);

export interface BitrixApiErrorInit {
  /** REST method, `batch`, or `oauth/token`. */
  method: string;
  /** Bitrix24's own code (`ERROR_ARGUMENT`, `QUERY_LIMIT_EXCEEDED`, `expired_token`, ...); none when the gateway decided the call failed. */
  bitrixCode?: string;
  /** The gateway's code when it, not Bitrix24, decided the call failed. Default `B24GW_BITRIX_API`. */
  code?: ErrorCode;
  /** The HTTP status Bitrix24 answered with; 0 when there was no answer. */
  httpStatus: number;
  description?: string;
  retryAfterMs?: number;
  memberId?: string;
}

/**
 * A Bitrix24 REST or OAuth failure: the gateway's code `B24GW_BITRIX_API`, with Bitrix24's own
 * code kept apart in `bitrixCode`. The message names the method and Bitrix24's code and
 * description; it never carries tokens (descriptions are scrubbed before they get here).
 */
export class BitrixApiError extends GatewayError implements RetryHint {
  /** Bitrix24's own code, never one of the gateway's; undefined when the gateway decided the call failed (see `code`). */
  readonly bitrixCode: string | undefined;
  /** The HTTP status of Bitrix24's answer (0 without one); `status` is the gateway's, 502. */
  readonly httpStatus: number;
  readonly retryAfterMs?: number;
  readonly method: string;
  readonly memberId?: string;
  /** Bitrix24's error_description (scrubbed), or what the gateway saw. */
  readonly description: string;

  constructor(init: BitrixApiErrorInit, options?: { cause?: unknown }) {
    const where = init.memberId ? ` for portal ${init.memberId}` : '';
    const desc = init.description ? `: ${init.description}` : '';
    const http = init.httpStatus ? ` (HTTP ${init.httpStatus})` : '';
    const retry = init.retryAfterMs !== undefined ? `; retry in ${Math.ceil(init.retryAfterMs / 1000)} s` : '';
    super(
      init.code ?? 'B24GW_BITRIX_API',
      `Bitrix24 ${init.method}${where} failed with ${init.bitrixCode ?? init.code}${desc}${http}${retry}`,
      {
        cause: options?.cause,
      },
    );
    this.name = 'BitrixApiError';
    this.bitrixCode = init.bitrixCode;
    this.httpStatus = init.httpStatus;
    this.method = init.method;
    this.description = init.description ?? '';
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.memberId !== undefined) this.memberId = init.memberId;
  }

  /** Bitrix24's code, else the gateway's: what metrics and logs name the failure by. */
  get reason(): string {
    return this.bitrixCode ?? this.code;
  }
}

/** Replaces every known secret in a text that came from outside (an error description). */
export function scrub(text: string, secrets: Iterable<string | null | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 8) out = out.split(s).join(REDACTED);
  // Anything that still looks like `auth=…` or `access_token: …` loses its value too.
  return out.replace(
    /\b(auth|access_token|refresh_token|client_secret)(["']?\s*[=:]\s*["']?)[^\s"'&,;}]+/gi,
    `$1$2${REDACTED}`,
  );
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
  const code =
    typeof fields.code === 'string' && fields.code
      ? fields.code
      : typeof fields.code === 'number'
        ? String(fields.code)
        : undefined;
  const status = ctx.status ?? (typeof fields.status === 'number' ? fields.status : 0);
  const description = scrub(e instanceof Error ? e.message : String(e), ctx.secrets);
  const body = (original as { response?: { data?: unknown } } | undefined)?.response?.data as
    { time?: { operating_reset_at?: unknown }; operating_reset_at?: unknown } | undefined;
  const resetAt = Number(body?.time?.operating_reset_at ?? body?.operating_reset_at);
  const retryAfterMs =
    code === 'OPERATION_TIME_LIMIT' && resetAt > 0 ? Math.max(0, resetAt * 1000 - ctx.now()) + 1000 : undefined;
  return new BitrixApiError(
    { method: ctx.method, memberId: ctx.memberId, bitrixCode: code, httpStatus: status, description, retryAfterMs },
    { cause: e },
  );
}
