import { Clock } from './clock.js';
import { SandboxError } from './errors.js';
import { applyFaults, defaultFaults, REAL_OPERATING_LIMIT_SECONDS, type Faults, type FaultsInput } from './faults.js';
import { hex } from './ids.js';
import { LeakyBucket, OperatingBudget, type Plan } from './limits.js';
import { TokenStore } from './oauth.js';
import { Portal, type PortalInit } from './portal.js';
import { Recorder } from './recorder.js';

export interface SandboxOptions {
  /** Interface to listen on; loopback by default. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** The application's OAuth client id and secret the token endpoint accepts. Random when absent. */
  clientId?: string;
  clientSecret?: string;
  /** Access token lifetime; Bitrix24 uses 3600. */
  tokenTtlSeconds?: number;
  /** Clock in ms (Date.now by default); tokens, limits, ts and time blocks all follow it. */
  now?: () => number;
  /** Rate-limit plan of every portal: standard (50 burst, 2/s) or enterprise (250, 5/s). */
  plan?: Plan;
  /** How long an event POST may take before it counts as failed. */
  deliveryTimeoutMs?: number;
  /** The portal created at start. */
  portal?: PortalInit;
  /** Records kept per log (calls, deliveries, statuses, token requests). */
  recorderLimit?: number;
}

/** The sandbox's shared state: portals, tokens, switches, limits and the recorder. */
export class SandboxCore {
  readonly clock: Clock;
  readonly tokens: TokenStore;
  readonly recorder: Recorder;
  readonly portals: Portal[] = [];
  readonly plan: Plan;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly deliveryTimeoutMs: number;
  faults: Faults;
  #url = 'http://127.0.0.1:0';
  readonly #buckets = new WeakMap<Portal, LeakyBucket>();
  readonly #budgets = new Map<string, OperatingBudget>();

  constructor(opts: SandboxOptions = {}) {
    this.clock = new Clock(opts.now);
    this.tokens = new TokenStore(this.clock, opts.tokenTtlSeconds ?? 3600);
    this.recorder = new Recorder(opts.recorderLimit);
    this.plan = opts.plan ?? 'standard';
    this.clientId = opts.clientId ?? `local.${hex(7)}.${hex(4)}`;
    this.clientSecret = opts.clientSecret ?? hex(25);
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 10_000;
    this.faults = defaultFaults(this.plan);
  }

  get url(): string {
    return this.#url;
  }

  /** host:port the sandbox listens on: the default portal domain and the authorization server's domain. */
  get hostPort(): string {
    return new URL(this.#url).host;
  }

  listening(url: string): void {
    this.#url = url;
  }

  addPortal(init: PortalInit = {}): Portal {
    const portal = new Portal(
      { ...init, domain: init.domain ?? this.hostPort },
      () => `${this.#url}/rest/`,
      this.portals.length + 1,
    );
    if (this.portals.some((p) => p.memberId === portal.memberId))
      throw new SandboxError('B24SB_PORTAL_EXISTS', `A portal with member_id ${portal.memberId} exists`);
    this.portals.push(portal);
    return portal;
  }

  /** A portal by member_id or index; the first portal when `ref` is absent. */
  portal(ref?: string | number): Portal {
    const portal =
      ref === undefined
        ? this.portals[0]
        : typeof ref === 'number'
          ? this.portals[ref]
          : this.portals.find((p) => p.memberId === ref);
    if (!portal)
      throw new SandboxError('B24SB_NOT_FOUND', `No portal ${ref === undefined ? 'exists' : JSON.stringify(ref)}`);
    return portal;
  }

  setFaults(input: FaultsInput): Faults {
    this.faults = applyFaults(this.faults, input, this.plan);
    return this.faults;
  }

  clearFaults(): void {
    this.faults = defaultFaults(this.plan);
  }

  // ---- limits ----

  bucket(portal: Portal): LeakyBucket {
    let bucket = this.#buckets.get(portal);
    if (!bucket) this.#buckets.set(portal, (bucket = new LeakyBucket(this.clock.now())));
    return bucket;
  }

  budget(portal: Portal, method: string): OperatingBudget {
    const key = `${portal.memberId}\u0000${method}`;
    let budget = this.#budgets.get(key);
    if (!budget) this.#budgets.set(key, (budget = new OperatingBudget()));
    return budget;
  }

  /** The operating limit and charged cost for a method under the current switches. */
  operatingRule(method: string): { limitSeconds: number; costSeconds?: number } {
    const f = this.faults.operationTimeLimit;
    if (f && (!f.methods || f.methods.includes(method)))
      return { limitSeconds: f.limitSeconds, costSeconds: f.costSeconds };
    return { limitSeconds: REAL_OPERATING_LIMIT_SECONDS };
  }
}
