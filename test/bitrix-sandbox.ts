/**
 * The REST client's tests against the sandbox: one portal (member-1, its connectors `myconnector`
 * and `other` registered), a temp SQLite store holding it as an install leaves it, the clients,
 * and what the client logged.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach } from 'vitest';
import { startSandbox, type CallRecord, type Portal, type Sandbox, type TokenPair } from '@b24-im-gateway/sandbox';
import { BitrixClients, type BitrixOptions } from '../src/effects/bitrix/client.js';
import type { DeliveryStatus } from '../src/effects/bitrix/status-batcher.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import type { Store } from '../src/store/types.js';
import { tempDir } from './helpers.js';
import { newEvent, portalRecord } from './records.js';

export const CLIENT_ID = 'local.app.1';
export const CLIENT_SECRET = 'client-secret-0123456789';

/** A sandbox whose portal `member-1` knows the application's client; no leaky bucket unless a test asks for one. */
export async function startPortal(o: { slowOAuthMs?: number } = {}): Promise<{ sb: Sandbox; portal: Portal }> {
  const sb = await startSandbox({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, portal: { memberId: 'member-1' } });
  sb.faults.set({ rateLimit: false, slowOAuthMs: o.slowOAuthMs ?? 0 });
  const portal = sb.portal;
  portal.registerConnector('myconnector');
  portal.registerConnector('other');
  return { sb, portal };
}

/** Puts a sandbox portal into the store the way an install does, with `pair` as its tokens. */
export async function installPortal(
  store: Store,
  portal: Portal,
  pair: TokenPair,
  o: { expiresAt?: number; serverEndpoint?: string } = {},
): Promise<void> {
  const now = Date.now();
  await store.append(
    newEvent({
      dedupKey: `install-${portal.memberId}-${pair.access_token}`,
      memberId: portal.memberId,
      status: 'invalid',
      receivedAt: now,
    }),
    {
      kind: 'install',
      portal: portalRecord({
        memberId: portal.memberId,
        domain: portal.domain,
        accessToken: pair.access_token,
        refreshToken: pair.refresh_token,
        expiresAt: o.expiresAt ?? pair.expires * 1000,
        clientEndpoint: portal.clientEndpoint,
        serverEndpoint: o.serverEndpoint ?? portal.serverEndpoint,
        scope: portal.scope,
        installedAt: now,
        updatedAt: now,
      }),
    },
  );
}

/** HTTP requests the sandbox answered (a batch is one). */
export const requestsTo = (sb: Sandbox, method?: string): CallRecord[] =>
  sb.recorder.calls({ method }).filter((c) => c.transport !== 'batch');
/** Methods the sandbox ran, batch commands included and batch requests themselves not. */
export const commandsOf = (sb: Sandbox, method?: string): CallRecord[] =>
  sb.recorder.calls({ method }).filter((c) => c.method !== 'batch');
/** Refresh-token exchanges, in order. */
export const refreshesOf = (sb: Sandbox): { refreshToken: string | undefined; ok: boolean }[] =>
  sb.recorder
    .tokenRequests()
    .filter((t) => t.grantType === 'refresh_token')
    .map((t) => ({ refreshToken: t.refreshToken, ok: t.ok }));

export interface Rig {
  sb: Sandbox;
  portal: Portal;
  memberId: string;
  store: SqliteStore;
  /** The store as the clients see it: token saves are written to the timeline as `saved:<token>`. */
  spyStore: Store;
  pair: TokenPair;
  logs: string[];
  /** `rest:<token>` for each REST request the sandbox answered and `saved:<token>` for each token save, in order. */
  timeline: string[];
  /** Runs when a token save starts (before the optional delay). */
  beforeSave: { fn?: () => void };
  clients: (o?: Partial<BitrixOptions>) => BitrixClients;
  close: () => Promise<void>;
}

/** Makes rigs as `rig` does; each one made in a test is closed after it. */
export function useRigs(): typeof rig {
  const made: Rig[] = [];
  afterEach(async () => {
    for (const r of made.splice(0)) await r.close();
  });
  return async (o) => {
    const r = await rig(o);
    made.push(r);
    return r;
  };
}

/** The delivery status of message `i` of one chat, as the status batcher takes it. */
export const deliveryStatus = (i: number): DeliveryStatus => ({
  im: { chat_id: 323, message_id: 85_000 + i },
  message: { id: [`ext-${i}`], date: 1738065600 },
  chat: { id: 'channel-123' },
});

export async function rig(
  o: { expiresAt?: number; serverEndpoint?: string; saveDelayMs?: number; slowOAuthMs?: number } = {},
): Promise<Rig> {
  const dir = tempDir();
  const { sb, portal } = await startPortal(o);
  const store = new SqliteStore(join(dir.dir, 'gateway.sqlite'));
  const pair = sb.issueTokens(portal);
  await installPortal(store, portal, pair, o);
  const timeline: string[] = [];
  sb.recorder.on('call', (c) => c.transport !== 'batch' && timeline.push(`rest:${c.accessToken ?? ''}`));
  const beforeSave: { fn?: () => void } = {};
  const spyStore = new Proxy(store, {
    get(target, prop) {
      if (prop === 'savePortalTokens') {
        return async (...args: Parameters<Store['savePortalTokens']>) => {
          beforeSave.fn?.();
          // A slow disk widens the window in which a token could be used before it is stored.
          if (o.saveDelayMs) await new Promise((res) => setTimeout(res, o.saveDelayMs));
          await target.savePortalTokens(...args);
          timeline.push(`saved:${args[1].accessToken}`);
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
    sb,
    portal,
    memberId: portal.memberId,
    store,
    spyStore,
    pair,
    logs,
    timeline,
    beforeSave,
    clients: (extra = {}) => {
      const c = new BitrixClients({
        store: spyStore,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        oauthServer: sb.url,
        logger,
        ...extra,
      });
      made.push(c);
      return c;
    },
    close: async () => {
      for (const c of made) c.close();
      await sb.stop();
      await store.close();
      dir.cleanup();
    },
  };
}

/** True when none of the secrets appears in the text. */
export function tokenFree(text: string, secrets: string[]): boolean {
  return secrets.every((s) => !text.includes(s));
}
