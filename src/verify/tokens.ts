import { GatewayError } from '../errors.js';
import type { Store } from '../store/types.js';
import { secretDigest } from './compare.js';

export interface ExpectedToken {
  token: string;
  /** The token's digest, made once per cache fill rather than once per event. */
  digest: Buffer;
  source: 'install' | 'config';
}

interface Cached {
  value: ExpectedToken | undefined;
  until: number;
}

/**
 * Knows each portal's application_token: from a verified install in the store, else
 * from static configuration. Store answers are cached briefly, since every event needs one.
 */
export class TokenBook {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly store: Store,
    private readonly configured: ReadonlyMap<string, string>,
    private readonly ttlMs = 5_000,
  ) {}

  /** What is cached for a portal, without a trip to the store: the hot path needs no promise. */
  peek(memberId: string): Cached | undefined {
    const hit = this.cache.get(memberId);
    return hit && hit.until > Date.now() ? hit : undefined;
  }

  async expected(memberId: string): Promise<ExpectedToken | undefined> {
    const hit = this.peek(memberId);
    if (hit) return hit.value;
    const now = Date.now();
    const portal = await this.store.getPortal(memberId);
    const fromConfig = this.configured.get(memberId);
    const value: ExpectedToken | undefined = portal?.applicationToken
      ? { token: portal.applicationToken, digest: secretDigest(portal.applicationToken), source: 'install' }
      : fromConfig !== undefined
        ? { token: fromConfig, digest: secretDigest(fromConfig), source: 'config' }
        : undefined;
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(memberId, { value, until: now + this.ttlMs });
    return value;
  }

  /** Drops what this process cached for a portal after its install or uninstall is committed. */
  forget(memberId: string): void {
    this.cache.delete(memberId);
  }
}

/** Parses `MEMBER_ID=TOKEN` pairs from flags and from `B24GW_APP_TOKENS=M1=T1,M2=T2`. */
export function parseTokenPairs(pairs: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of pairs.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    const member = pair.slice(0, eq).trim();
    const token = pair.slice(eq + 1).trim();
    if (eq <= 0 || !member || !token) {
      throw new GatewayError('B24GW_BAD_CONFIG', `Expected MEMBER_ID=TOKEN, got "${pair.slice(0, Math.max(eq, 0))}=…" (the token is not shown)`);
    }
    map.set(member, token);
  }
  return map;
}
