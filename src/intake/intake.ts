import { hash } from 'node:crypto';
import { GatewayError, isGatewayError } from '../errors.js';
import type { EventAuth } from '../events/auth.js';
import { orderKeyOf } from '../events/keys.js';
import { splitSecrets } from '../events/redact.js';
import { normalizeCode, parseEvent, type ParsedEvent } from '../events/registry.js';
import { silentLogger, type Logger } from '../log.js';
import { LogThrottle } from '../log-throttle.js';
import type { NewEvent, PortalChange, Store } from '../store/types.js';
import { secretsEqual } from '../verify/compare.js';
import { defaultAllowedDomains } from '../verify/domains.js';
import { confirmInstall, type InstallLiveness } from '../verify/install.js';
import { expiresAtOf } from '../verify/oauth.js';
import { Refusal } from '../verify/refuse.js';
import { storedTokenOf, TokenBook } from '../verify/tokens.js';
import { bodyText, decodeText, formatOf, type BodyFormat } from '../wire/decode.js';
import { resolveLimits, type DecodeLimits } from '../wire/limits.js';
import { claimOf, peekForm, type Claim } from '../wire/peek.js';
import { redactedJson, redactRanges } from '../wire/redact.js';
import { isWireObject, type WireObject } from '../wire/types.js';
import { keepInstall } from './keep-install.js';

export interface IntakeOptions {
  store: Store;
  /** Tokens known without an install (outgoing webhooks, tests): member_id → application_token. */
  appTokens?: ReadonlyMap<string, string>;
  /** Domains an install may come from. Default: Bitrix24's cloud zones (`*.bitrix24.com`, `*.bitrix24.de`, …). */
  allowDomains?: readonly string[];
  /** When set, an install's app.info must report this application code. */
  appCode?: string;
  /** The application's OAuth client: proves each install with the authorization server (see confirmInstall). */
  oauth?: { clientId: string; clientSecret: string; server?: string | undefined };
  /** Development only: accept first installs nothing else proves. Refused with NODE_ENV=production. */
  trustFirstInstall?: boolean;
  /** The installing user must be a portal administrator. Default true. */
  requireAdmin?: boolean;
  /** Whether a portal still accepts its current install's credentials: how re-installs and uninstalls are proven. */
  installLiveness?: (memberId: string) => Promise<InstallLiveness>;
  limits?: Partial<DecodeLimits>;
  /** Deliveries taken at once; more are answered 503 with Retry-After. Default 2,048. */
  maxPending?: number;
  logger?: Logger;
  /** Used to call a portal back when it installs. */
  fetch?: typeof fetch;
  /** Called after an event is committed, e.g. to wake a worker. */
  onStored?: (id: number, code: string, duplicate: boolean) => void;
  /** Called when a delivery is refused, with the error code, or a verification's reason. */
  onRejected?: (reason: string) => void;
}

export type IntakeResult =
  | { status: 200; id: number; duplicate: boolean; code: string; memberId: string }
  | { status: number; error: GatewayError };

/** Genuine installs are under a kilobyte: a larger one is refused before it is decoded. */
const MAX_INSTALL_BYTES = 16 * 1024;
/** Installs call the authorization server and the portal: a bounded number at once. */
const MAX_INSTALLS_AT_ONCE = 8;

/**
 * The event's own time first, then the digest: keys of events that arrive together sit side by
 * side in the unique index, so a commit touches a few index pages at its end.
 */
const dedupKeyOf = (ts: unknown, digest: string): string =>
  `${typeof ts === 'string' || typeof ts === 'number' ? ts : ''}:${digest}`;

/** What takes a body and answers it: the Intake itself, or one on another thread. */
export type Receiver = Pick<Intake, 'limits' | 'receive'>;

/** What an answer carries on the wire. */
export const answerBody = (r: IntakeResult): object =>
  'error' in r ? r.error.toJSON() : { ok: true, id: r.id, duplicate: r.duplicate };

/**
 * The gateway's front door, without any server: verify → decode → validate → store.
 * The sender is verified from a linear read of the body before the body is decoded; a 200 is
 * returned only once the event is committed.
 */
export class Intake {
  readonly limits: DecodeLimits;
  readonly tokens: TokenBook;
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();
  private readonly maxPending: number;
  private pending = 0;
  private installing = 0;
  /** When a refused ONAPPTEST was last noted, per portal. */
  private readonly testsNoted = new Map<string, number>();

  constructor(private readonly options: IntakeOptions) {
    this.limits = resolveLimits(options.limits);
    this.tokens = new TokenBook(options.store, options.appTokens ?? new Map());
    this.log = options.logger ?? silentLogger;
    this.maxPending = options.maxPending ?? 2_048;
    if (options.trustFirstInstall) {
      if (process.env.NODE_ENV === 'production') {
        throw new GatewayError(
          'B24GW_BAD_CONFIG',
          'trustFirstInstall (--trust-first-install) accepts forged installs and is refused with NODE_ENV=production',
        );
      }
      this.log.warn(
        'first installs are trusted without proof (--trust-first-install): anyone can install any portal; for development only',
      );
    }
  }

  async receive(body: Uint8Array | string, contentType: string | null | undefined): Promise<IntakeResult> {
    if (this.pending >= this.maxPending)
      return this.refused(new GatewayError('B24GW_BUSY', `More than ${this.maxPending} deliveries are in progress`));
    this.pending++;
    try {
      return await this.accept(body, contentType);
    } catch (e) {
      return this.refused(
        isGatewayError(e)
          ? e
          : new GatewayError('B24GW_STORE_FAILED', 'Event could not be stored; it was not accepted', { cause: e }),
      );
    } finally {
      this.pending--;
    }
  }

  private refused(error: GatewayError): IntakeResult {
    const reason = error instanceof Refusal ? error.reason : error.code;
    this.options.onRejected?.(reason);
    const { ok, skipped } = this.throttle.allow(reason);
    if (ok) {
      const line = { code: error.code, reason, path: error.path, ...(skipped ? { skipped } : {}) };
      if (error.status >= 500) this.log.error({ ...line, err: error.cause ?? error }, error.detail ?? error.message);
      else this.log.warn(line, error.detail ?? error.message);
    }
    return { status: error.status, error };
  }

  private async accept(body: Uint8Array | string, contentType: string | null | undefined): Promise<IntakeResult> {
    const format = formatOf(contentType);
    const text = bodyText(body, this.limits);
    // JSON is parsed natively, fast whatever its shape; a form body is read for its sender alone first.
    let wire = format === 'json' ? decodeText(text, format, this.limits) : undefined;
    const claim = wire ? claimOf(wire) : peekForm(text, this.limits);
    const install = claim.event !== undefined && normalizeCode(claim.event) === 'ONAPPINSTALL';
    if (install && Buffer.byteLength(text) > MAX_INSTALL_BYTES) {
      throw new GatewayError(
        'B24GW_INSTALL_BODY_TOO_LARGE',
        `An install event of ${Buffer.byteLength(text)} bytes; genuine ones are under ${MAX_INSTALL_BYTES}`,
      );
    }
    if (!install) await this.verifyToken(claim);
    const secrets: number[] = [];
    wire ??= decodeText(text, format, this.limits, secrets);
    // The raw body as kept: secrets replaced in place (form), or the parsed JSON without them.
    const rawBody = () => (format === 'form' ? redactRanges(text, secrets) : redactedJson(wire));
    let parsed: ParsedEvent;
    try {
      parsed = parseEvent(wire);
    } catch (e) {
      // Only a verified sender's event is kept: an install is verified after it parses.
      if (!install && isGatewayError(e)) await this.keep(this.invalidRecord(claim, wire, rawBody(), format, e));
      throw e;
    }
    const auth = parsed.event.auth;
    if (
      parsed.code !== normalizeCode(claim.event ?? '') ||
      auth.member_id !== claim.memberId ||
      auth.application_token !== claim.token
    ) {
      throw new Refusal(
        'token_mismatch',
        `The body names its sender twice, differently (portal ${auth.member_id.slice(0, 64)})`,
      );
    }
    let change: PortalChange | undefined;
    if (install) change = await this.verifyInstall(auth);
    else if (parsed.code === 'ONAPPUNINSTALL') change = await this.verifyUninstall(auth.member_id);
    const record = this.record(parsed, rawBody(), format);
    const stored =
      change?.kind === 'install'
        ? await keepInstall(this.options.store, record, change, this.log)
        : await this.keep(record, change);
    if (change) this.tokens.forget(auth.member_id);
    this.options.onStored?.(stored.id, parsed.code, stored.duplicate);
    this.log.debug(
      { id: stored.id, event: parsed.code, member: auth.member_id, duplicate: stored.duplicate },
      'event stored',
    );
    return { status: 200, id: stored.id, duplicate: stored.duplicate, code: parsed.code, memberId: auth.member_id };
  }

  private keep(record: NewEvent, change?: PortalChange) {
    return this.options.store.append(record, change);
  }

  private async verifyToken({ memberId, token, event }: Claim): Promise<void> {
    if (!memberId || !token)
      throw new Refusal('no_credentials', 'The body carries no auth[member_id] and auth[application_token]');
    const hit = this.tokens.cached(memberId);
    const expected = hit !== undefined ? hit : await this.tokens.load(memberId);
    if (!expected)
      throw new Refusal('unknown_portal', `No application token is known for portal ${memberId.slice(0, 64)}`);
    if (!secretsEqual(token, expected)) {
      if (event !== undefined && normalizeCode(event) === 'ONAPPTEST') await this.noteRefusedTest(memberId);
      throw new Refusal(
        'token_mismatch',
        `application_token does not match the one known for portal ${memberId.slice(0, 64)}`,
      );
    }
  }

  /**
   * The doctor's round trip (event.test) must tell "never arrived" from "arrived with another
   * application_token": the second is noted, for installed portals only and at most once a
   * second each, so forged requests cannot make the store write more than that.
   */
  private async noteRefusedTest(memberId: string): Promise<void> {
    const now = Date.now();
    if (now - (this.testsNoted.get(memberId) ?? 0) < 1_000) return;
    this.testsNoted.set(memberId, now);
    await this.options.store
      .noteRefusedTest(memberId, now)
      .catch((err: unknown) => this.log.warn({ err, member: memberId }, 'could not note a refused test event'));
  }

  private async verifyInstall(auth: EventAuth): Promise<PortalChange> {
    if (this.installing >= MAX_INSTALLS_AT_ONCE)
      throw new GatewayError('B24GW_BUSY', 'Too many installs are being confirmed at once');
    this.installing++;
    let tokens;
    try {
      ({ tokens } = await confirmInstall(auth, await this.options.store.getPortal(auth.member_id), {
        allowDomains: this.options.allowDomains ?? defaultAllowedDomains,
        appCode: this.options.appCode,
        oauth: this.options.oauth,
        configuredToken: this.options.appTokens?.get(auth.member_id),
        trustFirstInstall: this.options.trustFirstInstall,
        requireAdmin: this.options.requireAdmin,
        installLiveness: this.options.installLiveness,
        fetch: this.options.fetch,
      }));
    } finally {
      this.installing--;
    }
    if (!this.options.oauth && !this.options.appTokens?.has(auth.member_id)) {
      this.log.warn(
        { member: auth.member_id, domain: auth.domain },
        'install trusted without proof (--trust-first-install): never use this in production',
      );
    }
    const now = Date.now();
    this.log.info({ member: auth.member_id, domain: auth.domain }, 'install confirmed');
    return {
      kind: 'install',
      portal: {
        memberId: auth.member_id,
        domain: auth.domain,
        applicationToken: storedTokenOf(auth.application_token),
        // The proof spent the install's refresh token: the pair it got is the live one.
        accessToken: tokens?.accessToken ?? auth.access_token ?? null,
        refreshToken: tokens?.refreshToken ?? auth.refresh_token ?? null,
        expiresAt: tokens ? tokens.expiresAt : expiresAtOf(auth.expires_in, auth.expires, now),
        clientEndpoint: tokens?.clientEndpoint ?? auth.client_endpoint ?? null,
        serverEndpoint: tokens?.serverEndpoint ?? auth.server_endpoint ?? null,
        scope: auth.scope ?? null,
        status: auth.status ?? null,
        installedAt: now,
        uninstalledAt: null,
        updatedAt: now,
      },
    };
  }

  /**
   * An uninstall carries the portal's token, which any user who bound an event of the application
   * to their own URL has seen. Where the gateway holds the install's credentials, the portal must
   * also have stopped accepting them, as it does once the application is removed.
   */
  private async verifyUninstall(memberId: string): Promise<PortalChange> {
    if ((await this.options.installLiveness?.(memberId)) === 'alive') {
      throw new Refusal(
        'uninstall_while_installed',
        `Uninstall of portal ${memberId} while the portal still accepts the install's credentials`,
      );
    }
    return { kind: 'uninstall', memberId, at: Date.now() };
  }

  /** A verified event that fails its schema is kept (status `invalid`) before the 400, so it is not lost. */
  private invalidRecord(
    claim: Claim,
    wire: WireObject,
    rawBody: string,
    format: BodyFormat,
    error: GatewayError,
  ): NewEvent {
    const code = normalizeCode(claim.event ?? String(wire.event ?? ''));
    return {
      ...this.baseRecord(claim.memberId!, code, wire, rawBody, format),
      known: false,
      status: 'invalid',
      handlerId: null,
      ts: null,
      orderKey: null,
      error: error.message,
    };
  }

  private record(parsed: ParsedEvent, rawBody: string, format: BodyFormat): NewEvent {
    const e = parsed.event;
    return {
      ...this.baseRecord(e.auth.member_id, parsed.code, e, rawBody, format),
      known: parsed.known,
      status: 'pending',
      handlerId: e.event_handler_id ?? e.eventId ?? null,
      ts: e.ts ?? null,
      orderKey: orderKeyOf(parsed),
      error: null,
    };
  }

  private baseRecord(
    memberId: string,
    code: string,
    e: { event_handler_id?: unknown; eventId?: unknown; ts?: unknown; data?: unknown; auth?: unknown },
    rawBody: string,
    format: BodyFormat,
  ) {
    const { event: kept, secrets } = splitSecrets(e);
    const { data, ...rest } = kept;
    // `data` is most of an event: written out once, for the duplicate key and for the kept event alike.
    const dataJson = data === undefined ? undefined : JSON.stringify(data);
    const head = JSON.stringify(rest);
    const event =
      dataJson === undefined
        ? head
        : head === '{}'
          ? `{"data":${dataJson}}`
          : `${head.slice(0, -1)},"data":${dataJson}}`;
    const ts = e.ts ?? null;
    // The token belongs in the key: the same data sent under another install (a re-install within a second) is another event.
    const token = isWireObject(e.auth) ? e.auth.application_token : undefined;
    const dedup =
      JSON.stringify([memberId, code, e.event_handler_id ?? e.eventId ?? null, ts, token]) + (dataJson ?? 'null');
    return {
      dedupKey: dedupKeyOf(ts, hash('sha256', dedup, 'base64url')),
      memberId,
      code,
      receivedAt: Date.now(),
      event,
      rawBody,
      contentType: format,
      secrets: secrets && JSON.stringify(secrets),
    };
  }
}
