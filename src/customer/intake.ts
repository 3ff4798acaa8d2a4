import { secretKey, verifySignature, type HeaderSource } from '../effects/channel/sign.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { LogThrottle } from '../log-throttle.js';
import type { Store } from '../store/types.js';
import { dedupKeyOf, orderKeyOf, parseCustomerAction, type CustomerAction } from './actions.js';

export interface CustomerIntakeOptions {
  store: Store;
  /** The channel's secret (`whsec_...`), several during a rotation: every POST /channel/events must be signed with one. None: only `accept` takes actions. */
  secret?: string | readonly string[] | undefined;
  /** How far a request's `webhook-timestamp` may be from this clock. Default 300 s. */
  toleranceSeconds?: number;
  /** Largest body taken. Default 1 MiB. */
  maxBodyBytes?: number;
  logger?: Logger;
  /** Called once an action is kept (duplicate or not), e.g. to wake the sender. */
  onStored?: (id: number, duplicate: boolean) => void;
}

export type CustomerResult = { status: 200; id: number; duplicate: boolean } | { status: number; error: GatewayError };

/** What an answer to the channel carries. */
export const customerAnswerBody = (r: CustomerResult): object =>
  'error' in r ? r.error.toJSON() : { ok: true, id: r.id, duplicate: r.duplicate };

/** What takes the channel's signed requests: the intake itself, or one on another thread. */
export interface CustomerReceiver {
  receive(body: Uint8Array | string, headers: HeaderSource): Promise<CustomerResult>;
}

/** The headers a signed request is verified with: what crosses to another thread. */
export const signatureHeaders = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/**
 * The channel's front door: a request signed the Standard Webhooks way with the channel's secret
 * is verified (constant time, timestamp within the tolerance), its action validated and kept,
 * and only then answered 200. A retried request is kept once: a new message by the channel's
 * message id, anything else by the request's `webhook-id`.
 */
export class CustomerIntake implements CustomerReceiver {
  private readonly log: Logger;
  private readonly throttle = new LogThrottle();
  private readonly secrets: readonly string[];

  constructor(private readonly o: CustomerIntakeOptions) {
    this.log = o.logger ?? silentLogger;
    this.secrets = o.secret === undefined ? [] : typeof o.secret === 'string' ? [o.secret] : o.secret;
    for (const secret of this.secrets) {
      try {
        secretKey(secret);
      } catch (e) {
        throw new GatewayError(
          'B24GW_BAD_CONFIG',
          `The channel's secret cannot verify requests: ${(e as Error).message}`,
        );
      }
    }
  }

  /** Whether signed requests are taken (a secret is configured). */
  get enabled(): boolean {
    return this.secrets.length > 0;
  }

  async receive(body: Uint8Array | string, headers: HeaderSource): Promise<CustomerResult> {
    try {
      if (!this.enabled)
        throw new GatewayError(
          'B24GW_CHANNEL_NOT_CONFIGURED',
          "POST /channel/events needs the channel's secret: start the gateway with --channel-secret",
        );
      const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      const max = this.o.maxBodyBytes ?? 1024 * 1024;
      if (bytes > max)
        throw new GatewayError('B24GW_BODY_TOO_LARGE', `A customer action of ${bytes} bytes; the limit is ${max}`);
      if (!verifySignature(this.secrets, headers, body, this.o.toleranceSeconds ?? 300))
        throw new GatewayError(
          'B24GW_CHANNEL_UNAUTHORIZED',
          "The request is not signed with the channel's secret, or its webhook-timestamp is more than 5 minutes off",
        );
      const requestId = readHeader(headers, 'webhook-id')!;
      let json: unknown;
      try {
        json = JSON.parse(
          typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'),
        );
      } catch {
        throw new GatewayError('B24GW_MALFORMED_JSON', 'The customer action is not valid JSON');
      }
      return { status: 200, ...(await this.accept(json, requestId)) };
    } catch (e) {
      const error = isGatewayError(e)
        ? e
        : new GatewayError('B24GW_STORE_FAILED', 'The customer action could not be stored; it was not accepted', {
            cause: e,
          });
      this.refused(error);
      return { status: error.status, error };
    }
  }

  /**
   * Keeps one action, already trusted (the library's `gateway.fromChannel`): validated, checked
   * against the installed portals, committed. `requestId` makes a repeat of anything but a new
   * message the same action; without it each call is a new one.
   */
  async accept(input: unknown, requestId?: string): Promise<{ id: number; duplicate: boolean }> {
    const action: CustomerAction = parseCustomerAction(input);
    const portal = await this.o.store.getPortal(action.portal.memberId);
    if (!portal || portal.uninstalledAt !== null) {
      throw new GatewayError(
        'B24GW_PORTAL_NOT_INSTALLED',
        `Portal ${action.portal.memberId} is not installed: the gateway cannot send to it`,
      );
    }
    const key = requestId ?? `${Date.now()}:${Math.random().toString(36).slice(2)}`;
    const stored = await this.o.store.appendCustomerAction({
      memberId: action.portal.memberId,
      connector: action.connector.id,
      line: action.connector.line,
      type: action.type,
      dedupKey: dedupKeyOf(action, key),
      orderKey: orderKeyOf(action),
      item: JSON.stringify(action),
      receivedAt: Date.now(),
    });
    this.o.onStored?.(stored.id, stored.duplicate);
    return stored;
  }

  private refused(error: GatewayError): void {
    const { ok, skipped } = this.throttle.allow(error.code);
    if (!ok) return;
    const line = { code: error.code, path: error.path, ...(skipped ? { skipped } : {}) };
    if (error.status >= 500) this.log.error({ ...line, err: error.cause ?? error }, error.message);
    else this.log.warn(line, `customer action refused: ${error.message}`);
  }
}

function readHeader(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return typeof value === 'string' ? value : value?.join(' ');
}
