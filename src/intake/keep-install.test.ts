import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { newEvent, portalRecord } from '../../test/records.js';
import { silentLogger } from '../log.js';
import { SqliteStore } from '../store/sqlite/store.js';
import type { PortalChange } from '../store/types.js';
import { keepInstall } from './keep-install.js';

let tmp: ReturnType<typeof tempDir>;
let store: SqliteStore;
beforeEach(() => {
  tmp = tempDir();
  store = new SqliteStore(`${tmp.dir}/k.db`);
});
afterEach(async () => {
  vi.useRealTimers();
  await store.close();
  tmp.cleanup();
});

const record = newEvent({ dedupKey: 'k1', ts: 1 });
const change: PortalChange = {
  kind: 'install',
  portal: portalRecord({ applicationToken: 'sha256:00', refreshToken: 'only-live-refresh-token', status: null }),
};

/** The store refuses the first `n` appends, as a database that hiccups. */
const failing = (n: number) => {
  const append = store.append.bind(store);
  let left = n;
  store.append = (e, c) => (left-- > 0 ? Promise.reject(new Error('disk I/O error')) : append(e, c));
};

it('tries a failed install again before the answer, and keeps the pair the proof got', async () => {
  failing(2);
  expect((await keepInstall(store, record, change, silentLogger)).duplicate).toBe(false);
  expect((await store.getPortal('m1'))?.refreshToken).toBe('only-live-refresh-token');
});

it('after a 503 it keeps trying behind the answer, and stores the install once', async () => {
  vi.useFakeTimers();
  failing(4);
  const answer = keepInstall(store, record, change, silentLogger);
  const settled = answer.catch((e: unknown) => e);
  await vi.advanceTimersByTimeAsync(2_000);
  expect(await settled).toBeInstanceOf(Error);
  expect(await store.getPortal('m1')).toBeUndefined();
  await vi.advanceTimersByTimeAsync(5_000); // fails once more
  await vi.advanceTimersByTimeAsync(15_000); // then the append goes to the writer thread, in real time
  vi.useRealTimers();
  for (let i = 0; i < 100 && !(await store.getPortal('m1')); i++) await new Promise((r) => setTimeout(r, 20));
  expect((await store.getPortal('m1'))?.refreshToken).toBe('only-live-refresh-token');
  expect(await store.listEvents()).toHaveLength(1);
});
