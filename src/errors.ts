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
    title: 'The database is away',
    meaning:
      'The database did not answer (restarting, failing over, unreachable) within the store wait (`--store-wait`, default 5 s): an event was **not** accepted, a read or replay of the console changed nothing',
    fix: 'Send it again after Retry-After (the console retries by itself); check the database if it lasts',
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
  B24GW_BITRIX_API: {
    status: 502,
    title: 'Bitrix24 answered with an error',
    meaning:
      "A REST call (or a token refresh) failed at the portal; `BitrixApiError.bitrixCode` holds Bitrix24's own code (`ERROR_ARGUMENT`, `QUERY_LIMIT_EXCEEDED`, `expired_token`, ...), apart from this one",
    fix: "Look up Bitrix24's code in its REST documentation; limits and expired tokens are retried by the gateway itself",
  },
  B24GW_BATCH_HALTED: {
    status: 502,
    title: 'Not run: an earlier command of the batch failed',
    meaning: 'A command of a Bitrix24 `batch` with `halt` set, after one that failed; it was not run',
    fix: 'Fix the first failure; the command runs with the next attempt',
  },
  B24GW_NOT_ACCEPTED: {
    status: 502,
    title: 'Bitrix24 answered without accepting the call',
    meaning:
      'A call that Bitrix24 answered without an error, but not with what says it was done (`SUCCESS: true`, a delivery status, a customer action, a setup step)',
    fix: 'The message quotes the answer; the call is retried on the schedule',
  },
  B24GW_PORTAL_UNUSABLE: {
    status: 500,
    title: "The portal's install cannot be used to call it",
    meaning: "The portal's install record has no OAuth tokens, or a domain that is not a host name",
    fix: 'Install the application again with the gateway as its install handler',
  },
  B24GW_NO_OAUTH_CLIENT: {
    status: 500,
    title: "A token refresh needs the application's OAuth client",
    meaning: 'The access token expired and no `--client-id`/`--client-secret` was given to refresh it',
    fix: 'Give `--client-id` and `--client-secret` (or `B24GW_CLIENT_ID`, `B24GW_CLIENT_SECRET`)',
  },
  B24GW_OAUTH_FAILED: {
    status: 502,
    title: 'The authorization server refused or failed a token exchange',
    meaning:
      "Exchanging a refresh token at the authorization server failed; `OAuthError.oauthCode` holds the server's own code (`invalid_grant`, `NETWORK_ERROR`, ...)",
    fix: 'Check `--client-id`/`--client-secret`, `--oauth-server`, and the way out to it',
  },
  B24GW_ANSWER_REFUSED: {
    status: 502,
    title: "Another server's answer was too large or not what was expected",
    meaning:
      'An answer of Bitrix24, the authorization server or the channel over 64 KiB, or not JSON where JSON was expected',
  },
  B24GW_CHANNEL_DELIVERY_FAILED: {
    status: 502,
    title: 'The channel did not take a delivery',
    meaning:
      "The channel's URL answered other than 2xx, redirected, timed out or could not be reached; `ChannelDeliveryError.kind` says which, `httpStatus` what it answered. The delivery is retried on the schedule",
    fix: "Check the channel's endpoint and its log; `b24-im-gateway events --status dead` lists what ran out of retries",
  },
  B24GW_HANDLER_FAILED: {
    status: 500,
    title: "An event's handlers failed",
    meaning:
      'One or more handlers of an event threw; `HandlerError.errors` holds each failure. The event is retried on the schedule, then kept as dead',
    fix: '`b24-im-gateway events --status dead` shows the last error; `replay` runs the event again once fixed',
  },
  B24GW_TIMED_OUT: {
    status: 504,
    title: 'An attempt did not finish within its time limit',
    meaning:
      'A handler (or a delivery) ran past `--handler-timeout`; its `ctx.signal` was aborted with this error (named `TimeoutError`) and the attempt is retried',
    fix: 'Pass `ctx.signal` to what the handler waits on, or raise `--handler-timeout`',
  },
  B24GW_ABORTED: {
    status: 503,
    title: 'An attempt was stopped before it finished',
    meaning:
      "The gateway stopped and the handler did not finish within its grace period, or the event's lease was lost to another instance; `ctx.signal` was aborted with this error (named `AbortError`) and the attempt is retried",
  },
  B24GW_LISTEN_FAILED: {
    status: 500,
    title: 'The server could not listen on its address',
    meaning: 'The port is taken (`EADDRINUSE`), not allowed (`EACCES`) or the host is not an address of this machine',
    fix: 'Choose another `--port`/`--host` (or `--admin-port`), or stop what holds it',
  },
  B24GW_STORE_UNREACHABLE: {
    status: 503,
    title: 'The database could not be reached',
    meaning:
      'Opening the store failed: PostgreSQL refused the connection (`ECONNREFUSED`), the host is unknown, or the credentials are refused; a SQLite path that cannot be opened',
    fix: 'Check `--db` (`DATABASE_URL`) and that the database is up',
  },
  B24GW_DEMO_FAILED: {
    status: 500,
    title: 'The demo could not run',
    meaning:
      'A part of `b24-im-gateway demo` (the gateway process, the sandbox, the sample channel) failed or timed out',
    fix: 'Run `npm run build` first; the message names the part',
  },
  B24GW_INTERNAL: {
    status: 500,
    title: 'Unexpected error',
    meaning: 'A failure the gateway has no code for (a bug); the CLI prints it with this code',
    fix: 'Set `B24GW_DEBUG=1` for the stack and report it',
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
