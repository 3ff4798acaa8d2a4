import { randomBytes } from 'node:crypto';

/** A random lower-case hex string: the shape of Bitrix24 member ids, tokens and application tokens. */
export const hex = (bytes = 16): string => randomBytes(bytes).toString('hex');

/** A counter that hands out increasing integers from `start`. */
export function counter(start: number): () => number {
  let next = start;
  return () => next++;
}
