import { hash, timingSafeEqual } from 'node:crypto';

/** A secret's SHA-256 digest: compared instead of the secret, so the comparison's time depends on neither length. */
export const secretDigest = (secret: string): Buffer => hash('sha256', secret, 'buffer');

/** Compares two secrets in time that depends on neither: both are hashed to one length first. */
export function secretsEqual(a: string, b: string | Buffer): boolean {
  return timingSafeEqual(secretDigest(a), typeof b === 'string' ? secretDigest(b) : b);
}
