import { GatewayError } from '../errors.js';
import type { Store } from '../store/types.js';

export interface ExpectedToken {
  token: string;
  source: 'install' | 'config';
}

/**
 * Knows each portal's application_token: from a verified install in the store, else
 * from static configuration. Store answers are cached briefly, since every event needs one.
 */
export class TokenBook {
  private readonly cache = new Map<string, { value: ExpectedToken | undefined; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly configured: ReadonlyMap<string, string>,
    private readonly ttlMs = 5_000,
  ) {}

  async expected(memberId: string): Promise<ExpectedToken | undefined> {
    const now = Date.now();
    const hit = this.cache.get(memberId);
    if (hit && hit.until > now) return hit.value;
    const portal = await this.store.getPortal(memberId);
    const fromConfig = this.configured.get(memberId);
    const value: ExpectedToken | undefined = portal?.applicationToken
      ? { token: portal.applicationToken, source: 'install' }
      : fromConfig !== undefined
        ? { token: fromConfig, source: 'config' }
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
