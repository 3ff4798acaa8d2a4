/** Shared set-up for this folder's tests: a temp SQLite store, the fake, captured logs. */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SqliteStore } from '../../../store/sqlite/store.js';
import type { Store } from '../../../store/types.js';
import { BitrixClients, type BitrixOptions } from '../client.js';
import { installPortal, startFakeB24, type FakeB24, type FakeOptions, type Pair } from './fake-b24.js';

export interface Rig {
  fake: FakeB24;
  store: SqliteStore;
  /** The store as the clients see it: token saves are written to fake.timeline as `saved:<token>`. */
  spyStore: Store;
  pair: Pair;
  logs: string[];
  /** Runs when a token save starts (before the optional delay). */
  beforeSave: { fn?: () => void };
  clients: (o?: Partial<BitrixOptions>) => BitrixClients;
  close: () => Promise<void>;
}

/** `dir` comes from test/helpers.ts tempDir() (src files cannot import test/ in the build). */
export async function rig(dir: { dir: string; cleanup: () => void }, o: FakeOptions & { expiresAt?: number; serverEndpoint?: string; saveDelayMs?: number } = {}): Promise<Rig> {
  const fake = await startFakeB24(o);
  const store = new SqliteStore(join(dir.dir, 'gateway.sqlite'));
  const pair = fake.issue();
  await installPortal(store, fake, pair, o);
  const beforeSave: { fn?: () => void } = {};
  const spyStore = new Proxy(store, {
    get(target, prop) {
      if (prop === 'savePortalTokens') {
        return async (...args: Parameters<Store['savePortalTokens']>) => {
          beforeSave.fn?.();
          // A slow disk widens the window in which a token could be used before it is stored.
          if (o.saveDelayMs) await new Promise((res) => setTimeout(res, o.saveDelayMs));
          await target.savePortalTokens(...args);
          fake.timeline.push(`saved:${args[1].accessToken}`);
        };
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Store;
  const logs: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
  );
  const made: BitrixClients[] = [];
  return {
    fake,
    store,
    spyStore,
    pair,
    logs,
    beforeSave,
    clients: (extra = {}) => {
      const c = new BitrixClients({ store: spyStore, clientId: fake.clientId, clientSecret: fake.clientSecret, oauthServer: fake.origin, logger, ...extra });
      made.push(c);
      return c;
    },
    close: async () => {
      for (const c of made) c.close();
      await fake.close();
      await store.close();
      dir.cleanup();
    },
  };
}

/** True when none of the secrets appears in the text. */
export function tokenFree(text: string, secrets: string[]): boolean {
  return secrets.every((s) => !text.includes(s));
}
