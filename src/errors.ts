/**
 * Every error the gateway reports, in one place: a stable code a user can search for,
 * the HTTP status it answers with, and a short title. Messages add the specifics.
 */
export const errorCodes = {
  B24GW_BODY_TOO_LARGE: { status: 413, title: 'Request body is larger than the limit' },
  B24GW_EMPTY_BODY: { status: 400, title: 'Request body is empty' },
  B24GW_TOO_MANY_PARAMS: { status: 400, title: 'Body has more parameters than the limit' },
  B24GW_TOO_DEEP: { status: 400, title: 'Body nests deeper than the limit' },
  B24GW_INDEX_TOO_LARGE: { status: 400, title: 'A list index is larger than the limit' },
  B24GW_INVALID_UTF8: { status: 400, title: 'Body is not valid UTF-8' },
  B24GW_NUL_BYTE: { status: 400, title: 'Body holds a NUL character' },
  B24GW_MALFORMED_JSON: { status: 400, title: 'Body is not valid JSON' },
  B24GW_NOT_AN_OBJECT: { status: 400, title: 'Body is not an object of parameters' },
  B24GW_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Content-Type' },
  B24GW_MISSING_EVENT: { status: 400, title: 'Body has no event code' },
  B24GW_INVALID_EVENT: { status: 400, title: 'Event does not match its documented shape' },
  B24GW_UNAUTHORIZED: { status: 401, title: 'The event could not be verified as coming from Bitrix24' },
  B24GW_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  B24GW_NOT_FOUND: { status: 404, title: 'Not found' },
  B24GW_ADMIN_UNAUTHORIZED: { status: 401, title: 'Admin route needs the admin token (Authorization: Bearer)' },
  B24GW_ADMIN_FAILED: { status: 500, title: 'Admin route failed' },
  B24GW_BODY_TIMEOUT: { status: 408, title: 'Request body was not received in time' },
  B24GW_STORE_FAILED: { status: 503, title: 'Event could not be stored' },
  B24GW_STORE_CLOSED: { status: 503, title: 'The store is closed' },
  B24GW_SECRET_UNREADABLE: { status: 500, title: 'A stored secret cannot be decrypted with B24GW_SECRET_KEY' },
  B24GW_SHUTTING_DOWN: { status: 503, title: 'Gateway is shutting down' },
  B24GW_BUSY: { status: 503, title: 'Gateway has too many requests in progress; try again shortly' },
  B24GW_VERIFY_UNAVAILABLE: { status: 503, title: 'The portal or the authorization server could not be asked to confirm an install' },
  B24GW_INSTALL_BODY_TOO_LARGE: { status: 413, title: 'An install event is larger than any genuine one' },
  B24GW_BAD_CONFIG: { status: 500, title: 'Invalid configuration' },
  B24GW_BAD_INPUT: { status: 400, title: 'Invalid input' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface GatewayErrorOptions {
  path?: string;
  cause?: unknown;
  /** What only the gateway's own log may say (why a verification failed); never part of an answer. */
  detail?: string;
  /** Seconds a client should wait before trying again (the Retry-After of a 503). */
  retryAfter?: number;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Where in the body the problem is, in PHP bracket form (`data[MESSAGES][0][im][chat_id]`). */
  readonly path: string | undefined;
  readonly detail: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: GatewayErrorOptions) {
    super(message ?? errorCodes[code].title, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.path = options?.path;
    this.detail = options?.detail;
    this.retryAfter = options?.retryAfter ?? (this.status === 503 ? 1 : undefined);
  }

  toJSON(): { error: { code: ErrorCode; message: string; path?: string } } {
    return { error: { code: this.code, message: this.message, ...(this.path === undefined ? {} : { path: this.path }) } };
  }
}

export const isGatewayError = (e: unknown): e is GatewayError => e instanceof GatewayError;
