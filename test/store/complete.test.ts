import { afterEach, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../helpers.js';

/** A store of the user's own: a real one seen through a proxy that hides some of it. */
function without(store: Store, hidden: string[], hiddenOfState: string[] = []): Store {
  const state = new Proxy(store.state, {
    get: (s, p) => (hiddenOfState.includes(String(p)) ? undefined : Reflect.get(s, p, s)),
  });
  return new Proxy(store, {
    get(target, prop) {
      if (hidden.includes(String(prop))) return undefined;
      if (prop === 'state') return state;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const opened: SqliteStore[] = [];
const cleanups: (() => void)[] = [];
const store = () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const s = new SqliteStore(`${tmp.dir}/custom.db`);
  opened.push(s);
  return s;
};
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const c of cleanups.splice(0)) c();
});

it('refuses a custom store without the multi-instance guarantees, naming each one missing', () => {
  const refused = (() => {
    try {
      new Gateway({ db: without(store(), ['rateSlot', 'withPortalLock', 'onNewEvents']) });
    } catch (e) {
      return e;
    }
  })();
  expect(refused).toMatchObject({ code: 'B24GW_BAD_CONFIG' });
  expect((refused as Error).message).toMatch(/it has no rateSlot, withPortalLock, onNewEvents \(/);
});

it('refuses a custom store without the connector state, or with part of it', () => {
  expect(() => new Gateway({ db: without(store(), ['state']) })).toThrow(
    expect.objectContaining({ code: 'B24GW_BAD_CONFIG', message: expect.stringMatching(/it has no state \(/) }),
  );
  expect(() => new Gateway({ db: without(store(), [], ['apply', 'lines']) })).toThrow(
    /it has no state\.apply, state\.lines \(/,
  );
  // Not even an object: every method is named.
  expect(() => new Gateway({ db: {} as Store })).toThrow(/it has no append, getEvent, .*, close, state \(/);
});

it('takes a complete custom store, and keeps the connector state through it', async () => {
  const inner = store();
  const gateway = new Gateway({ db: without(inner, []) });
  expect(gateway.state).toBe(gateway.store.state);
  await gateway.state!.apply(
    { event: 'ONIMCONNECTORLINEDELETE', data: 5 },
    { eventId: 1, memberId: 'm1', receivedAt: 1 },
  );
  expect((await inner.state.lines('m1')).map((l) => [l.line, l.deleted])).toEqual([[5, true]]);
  await gateway.close();
});
