import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares two secrets in time that depends on neither: both are hashed to one length first. */
export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
