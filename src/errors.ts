/** What the table says of one code: docs/reference/errors.md is generated from it (npm run docs:errors). */
export interface ErrorInfo {
  /** The HTTP status it answers with (the CLI exits 1 whatever it is). */
  status: number;
  /** The message when nothing more specific is said. */
  title: string;
  /** When it happens, in more words than the title. */
  meaning?: string;
  /** What the user can do about it. */
  fix?: string;
}

/**
 * Every error the gateway reports, in one place: a stable code a user can search for, the HTTP
 * status it answers with, a short title, and for the reference what it means and what to do.
 * Messages add the specifics.
 */
export const errorCodes = {
  B24GW_BODY_TOO_LARGE: {
    status: 413,
    title: 'Request body is larger than the limit',
    meaning: 'Body over `--max-body-bytes` (default 1 MiB)',
    fix: 'Raise the limit if a genuine event is that large',
  },
  B24GW_EMPTY_BODY: {
    status: 400,
    title: 'Request body is empty',
    meaning: 'Nothing was sent',
  },
  B24GW_TOO_MANY_PARAMS: {
    status: 400,
    title: 'Body has more parameters than the limit',
    meaning: 'More than `--max-params` (10,000) pairs or JSON values',
    fix: 'PHP would silently drop the rest at 1,000; the gateway refuses instead',
  },
  B24GW_TOO_DEEP: {
    status: 400,
    title: 'Body nests deeper than the limit',
    meaning: 'Nesting over `--max-depth` (32)',
    fix: 'PHP would silently drop the variable at 64',
  },
  B24GW_INDEX_TOO_LARGE: {
    status: 400,
    title: 'A list index is larger than the limit',
    meaning: 'A numeric key or `[]` position over `--max-index` (2,147,483,647)',
  },
  B24GW_INVALID_UTF8: {
    status: 400,
    title: 'Body is not valid UTF-8',
    meaning: 'Bytes that are not UTF-8, raw or after percent-decoding',
    fix: 'Bitrix24 sends UTF-8 only',
  },
  B24GW_NUL_BYTE: {
    status: 400,
    title: 'Body holds a NUL character',
    meaning:
      'A key or value holds U+0000: `%00` or a raw NUL byte in a form body, `\\u0000` in JSON; `path` names where',
    fix: 'Bitrix24 never sends one; PHP would cut a name there',
  },
  B24GW_MALFORMED_JSON: {
    status: 400,
    title: 'Body is not valid JSON',
    meaning: 'JSON body does not parse',
  },
  B24GW_NOT_AN_OBJECT: {
    status: 400,
    title: 'Body is not an object of parameters',
    meaning: 'JSON body is not an object',
  },
  B24GW_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported Content-Type',
    meaning: 'Not form-urlencoded or JSON, or a charset other than UTF-8',
  },
  B24GW_MISSING_EVENT: {
    status: 400,
    title: 'Body has no event code',
    meaning: 'No `event` parameter',
  },
  B24GW_INVALID_EVENT: {
    status: 400,
    title: 'Event does not match its documented shape',
    meaning: 'A known event that does not match its documented shape; the message lists up to 5 places',
    fix: 'A genuine (verified) one is kept with status `invalid`',
  },
  B24GW_UNAUTHORIZED: {
    status: 401,
    title: 'The event could not be verified as coming from Bitrix24',
    meaning:
      "The delivery could not be verified as Bitrix24's: unknown portal, wrong token, an install that is not proven, a crafted re-install, a domain off the allow-list. Every reason answers the same, so nobody learns which portals are installed",
    fix: "The gateway's log says why (`reason`), and `b24gw_events_rejected_total{reason}` counts it; see [security](../guides/security.md)",
  },
  B24GW_METHOD_NOT_ALLOWED: {
    status: 405,
    title: 'Method not allowed',
    meaning: 'Not POST',
  },
  B24GW_NOT_FOUND: {
    status: 404,
    title: 'Not found',
    meaning: 'Not the events path (and `/metrics` on the public port: it is on the admin listener)',
  },
  B24GW_ADMIN_UNAUTHORIZED: {
    status: 401,
    title: 'Admin route needs the admin token (Authorization: Bearer, or basic auth)',
    meaning:
      'An admin request (`/metrics`, the console, ...) without `Authorization: Bearer <token>`, or basic auth with the token as password, matching `--admin-token`',
    fix: 'Send the token; a wrong one gets the same answer',
  },
  B24GW_ADMIN_FAILED: {
    status: 500,
    title: 'Admin route failed',
    meaning: "An admin route failed; the detail is in the gateway's log, not in the answer",
  },
  B24GW_BODY_TIMEOUT: {
    status: 408,
    title: 'Request body was not received in time',
    meaning: 'Body not received in 10 s',
  },
  B24GW_STORE_FAILED: {
    status: 503,
    title: 'Event could not be stored',
    meaning: 'The event could not be committed; it was **not** accepted',
    fix: 'Check the disk and the database',
  },
  B24GW_STORE_UNAVAILABLE: {
    status: 503,
    title: 'The database did not answer',
    meaning:
      'A read or a replay of the console (or its API) failed: the database is down, restarting or unreachable. Nothing was changed',
    fix: 'It answers again once the database is back (the console retries by itself); check the database',
  },
  B24GW_STORE_CLOSED: {
    status: 503,
    title: 'The store is closed',
    meaning: 'The gateway is stopping, or the store was closed by the program that opened it',
  },
  B24GW_SECRET_UNREADABLE: {
    status: 500,
    title: 'A stored secret cannot be decrypted with B24GW_SECRET_KEY',
    meaning:
      'A stored OAuth token or event secret does not decrypt with `B24GW_SECRET_KEY` (another key, none, or changed); the store refuses to open',
    fix: 'Set the key the secrets were written with',
  },
  B24GW_SHUTTING_DOWN: {
    status: 503,
    title: 'Gateway is shutting down',
    meaning: 'The server is stopping',
  },
  B24GW_BUSY: {
    status: 503,
    title: 'Gateway has too many requests in progress; try again shortly',
    meaning:
      'More than `--max-pending` deliveries (default 2,048) at once, or more than 8 installs being confirmed; answered with `Retry-After`',
    fix: 'Bitrix24 does not retry: give the gateway more room or more instances',
  },
  B24GW_VERIFY_UNAVAILABLE: {
    status: 503,
    title: 'The portal or the authorization server could not be asked to confirm an install',
    meaning: 'The authorization server or the portal could not be asked to confirm an install (down, 5xx, timeout)',
    fix: 'Check the way out to `oauth.bitrix.info` and the portal',
  },
  B24GW_INSTALL_BODY_TOO_LARGE: {
    status: 413,
    title: 'An install event is larger than any genuine one',
    meaning: 'An `ONAPPINSTALL` over 16 KiB (genuine ones are under 1 KiB), refused before it is decoded',
  },
  B24GW_BAD_CONFIG: {
    status: 500,
    title: 'Invalid configuration',
    meaning:
      'A flag or variable is malformed or unsafe, e.g. an admin listener beyond loopback without a token (CLI exits 1)',
  },
  B24GW_BAD_INPUT: {
    status: 400,
    title: 'Invalid input',
    meaning: 'A CLI argument or file is wrong, e.g. `prune` without `--older-than` or with an unfinished `--status`',
  },
  B24GW_CHANNEL_UNAUTHORIZED: {
    status: 401,
    title: 'The request could not be verified as coming from the channel',
    meaning:
      "A `POST /channel/events` without a valid Standard Webhooks signature by the channel's secret (`webhook-id`, `webhook-timestamp`, `webhook-signature`), or with a timestamp more than 5 minutes from the gateway's clock",
    fix: 'Sign the raw body with the secret given as `--channel-secret`, with a fresh timestamp on each attempt; see [the channel reference](../../src/effects/channel/README.md)',
  },
  B24GW_CHANNEL_NOT_CONFIGURED: {
    status: 404,
    title: 'The gateway takes no customer actions: no channel secret is configured',
    meaning:
      "A `POST /channel/events` to a gateway started without the channel's secret, which every request must be signed with",
    fix: 'Start the gateway with `--channel-secret` (and `--channel-url`)',
  },
  B24GW_INVALID_CHANNEL_ACTION: {
    status: 400,
    title: 'The customer action does not match its documented shape',
    meaning:
      'A customer action (`POST /channel/events`, `gateway.fromChannel`) that is not JSON of a known `type` with the fields it needs; `path` names the first place',
    fix: 'See the payloads in [the channel reference](../../src/effects/channel/README.md)',
  },
  B24GW_PORTAL_NOT_INSTALLED: {
    status: 404,
    title: 'The portal is not installed',
    meaning:
      'A customer action, `connector setup` or `doctor` names a portal (member_id) the gateway holds no install of, or one that was uninstalled',
    fix: 'Install the application on the portal with the gateway as its handler; `b24-im-gateway doctor` lists the portals it knows',
  },
  B24GW_SETUP_FAILED: {
    status: 502,
    title: 'A Bitrix24 call of the setup failed',
    meaning:
      "`connector setup` or `connector teardown` (or their library form) got an error from the portal; the message names the method and Bitrix24's error code, and what was done before it",
    fix: 'Fix the cause and run the command again: each step checks what is there first, so a second run does only what is missing',
  },
  B24GW_CHECKS_FAILED: {
    status: 500,
    title: 'The doctor found a problem',
    meaning: 'At least one check of `b24-im-gateway doctor` failed; each failed check is printed with its fix',
    fix: 'Follow the fix printed under each ✖, then run the doctor again',
  },
  B24GW_NO_BOT: {
    status: 500,
    title: 'No bot to call imbot.v2 as',
    meaning:
      'A handler called `imbotV2(ctx).send`, `update` or `delete` for an event that names no bot (not a Chatbots 2.0 bot event), without `botId`',
    fix: 'Pass `imbotV2(ctx, { botId })`, or call it from an ONIMBOTV2 handler',
  },
} as const satisfies Record<string, ErrorInfo>;

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
    return {
      error: { code: this.code, message: this.message, ...(this.path === undefined ? {} : { path: this.path }) },
    };
  }
}

export const isGatewayError = (e: unknown): e is GatewayError => e instanceof GatewayError;
