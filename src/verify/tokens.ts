import { GatewayError } from '../errors.js';
import type { Store } from '../store/types.js';
import { secretDigest } from './compare.js';

const DIGEST_PREFIX = 'sha256:';

/**
 * How an application_token is kept in the portal record: its SHA-256 digest, never the token.
 * The gateway only ever compares tokens, so it needs nothing more.
 */
export const storedTokenOf = (token: string): string => DIGEST_PREFIX + secretDigest(token).toString('hex');

/** The digest a stored token stands for: records written before digests were kept hold the token itself. */
export const digestOfStored = (stored: string): Buffer =>
  stored.startsWith(DIGEST_PREFIX) ? Buffer.from(stored.slice(DIGEST_PREFIX.length), 'hex') : secretDigest(stored);

interface Cached {
  /** The SHA-256 of the portal's application_token (compared, never the token), or null when none is known. */
  digest: Buffer | null;
  until: number;
}

/**
 * Knows each portal's application_token digest: from a verified install in the store, else
 * from static configuration. Store answers are cached briefly, since every event needs one.
 */
export class TokenBook {
  private readonly cache = new Map<string, Cached>();
  private readonly configured: ReadonlyMap<string, Buffer>;

  constructor(
    private readonly store: Store,
    configured: ReadonlyMap<string, string>,
    private readonly ttlMs = 5_000,
  ) {
    this.configured = new Map([...configured].map(([member, token]) => [member, secretDigest(token)]));
  }

  /** The cached digest (null: no token known), or undefined when `load` must ask the store: the hot path needs no promise. */
  cached(memberId: string): Buffer | null | undefined {
    const hit = this.cache.get(memberId);
    return hit && hit.until > Date.now() ? hit.digest : undefined;
  }

  async load(memberId: string): Promise<Buffer | null> {
    const now = Date.now();
    const stored = (await this.store.getPortal(memberId))?.applicationToken;
    const digest = stored ? digestOfStored(stored) : (this.configured.get(memberId) ?? null);
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(memberId, { digest, until: now + this.ttlMs });
    return digest;
  }

  /** Drops what this process cached for a portal after its install or uninstall is committed. */
  forget(memberId: string): void {
    this.cache.delete(memberId);
  }
}

/** Parses `MEMBER_ID=TOKEN` pairs from flags and from `B24GW_APP_TOKENS=M1=T1,M2=T2`. */
export function parseTokenPairs(pairs: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of pairs
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    const member = pair.slice(0, eq).trim();
    const token = pair.slice(eq + 1).trim();
    if (eq <= 0 || !member || !token) {
      throw new GatewayError(
        'B24GW_BAD_CONFIG',
        `Expected MEMBER_ID=TOKEN, got "${pair.slice(0, Math.max(eq, 0))}=…" (the token is not shown)`,
      );
    }
    map.set(member, token);
  }
  return map;
}
