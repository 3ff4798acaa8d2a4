import { resolve } from 'node:path';

/*
 * What PostgreSQL gives several instances (a portal's advisory lock, NOTIFY), given in memory to the
 * stores of one thread on one SQLite file: a SQLite gateway is one process. Keyed by the file's path,
 * so a second SqliteStore on the file (a restart in tests, a second Gateway) shares them. The threads
 * of `serve` are isolates of their own: there, the receiving thread wakes the worker itself, and the
 * portal's bucket, which needs sharing most, is a row in the file (queries/portals.ts).
 */

const locks = new Map<string, Promise<unknown>>();
const wakers = new Map<string, Set<() => void>>();

export const fileKey = (file: string): string => resolve(file);

/** Runs `fn` after whatever holds `key` now, one at a time, in the order asked. */
export async function withLocalLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = locks.get(key) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  const tail = mine.catch(() => undefined);
  locks.set(key, tail);
  try {
    return await mine;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

/** Calls `wake` on every news of `file`, until the returned function is called. */
export function listenLocal(file: string, wake: () => void): () => void {
  let set = wakers.get(file);
  if (!set) wakers.set(file, (set = new Set()));
  set.add(wake);
  return () => {
    set.delete(wake);
    if (set.size === 0 && wakers.get(file) === set) wakers.delete(file);
  };
}

/** How many keys this thread holds locks for and files it has listeners on: none once all are released. */
export const localHeld = (): { locks: number; listened: number } => ({ locks: locks.size, listened: wakers.size });

export function announceLocal(file: string): void {
  const set = wakers.get(file);
  if (set) for (const wake of set) wake();
}
