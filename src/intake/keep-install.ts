import type { Logger } from '../log.js';
import type { AppendResult, NewEvent, PortalChange, Store } from '../store/types.js';

/** Tries within the request, then behind it; the second list's waits add up to about ten minutes. */
const NOW_MS = [0, 250, 1_000];
const LATER_MS = [5_000, 15_000, 30_000, 60_000, 120_000, 180_000, 200_000];

/** A wait that never keeps the process alive by itself. */
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Commits an install whose proof spent the portal's refresh token: the pair it got is the only live
 * one, so losing it would lose the portal until it is installed again. A failed commit is tried a few
 * times before the answer, and after a 503 it keeps being tried in the background (the record is the
 * same, so a late success stores it once).
 */
export async function keepInstall(
  store: Store,
  record: NewEvent,
  change: PortalChange,
  log: Logger,
): Promise<AppendResult> {
  let last: unknown;
  for (const wait of NOW_MS) {
    if (wait) await sleep(wait);
    try {
      return await store.append(record, change);
    } catch (e) {
      last = e;
    }
  }
  void keepTrying(store, record, change, log);
  throw last;
}

async function keepTrying(store: Store, record: NewEvent, change: PortalChange, log: Logger): Promise<void> {
  for (const wait of LATER_MS) {
    await sleep(wait);
    try {
      await store.append(record, change);
      log.warn({ member: record.memberId }, 'an install that could not be stored at first is stored now');
      return;
    } catch {
      // tried again after the next wait
    }
  }
  log.error(
    { member: record.memberId },
    'an install could not be stored for ten minutes; install the application on the portal again',
  );
}
