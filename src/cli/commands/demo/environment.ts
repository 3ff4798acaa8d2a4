import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TextFormat } from '../../../effects/channel/bbcode.js';
import { startSandbox, type Portal, type Sandbox } from '@b24-im-gateway/sandbox';
import { SqliteStore } from '../../../store/sqlite/store.js';
import { startChannel, type DemoChannel } from './channel.js';
import type { Paint } from './format.js';
import { channelFlags, oauthFlags } from './flags.js';
import { startGateway, type GatewayChild } from './gateway.js';

// Everything the demo starts (sandbox, channel, gateway process, its store, a temporary folder),
// and the cleanups that stop and remove it all again.

/** What the steps work with: the running pieces and how the run is set up. */
export interface Env {
  sb: Sandbox;
  portal: Portal;
  channel: DemoChannel;
  gateway: GatewayChild;
  store: SqliteStore;
  eventsUrl: string;
  dbFile: string;
  format: TextFormat;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  paint: Paint;
  out: (line: string) => void;
}

export type Cleanup = () => Promise<void> | void;

/** Short, so a retry in the demo does not take long; the real default is 5s,5m,30m,... */
const RETRY_SCHEDULE = '500ms,1s,2s,5s,10s';

/** The run's temporary folder; its removal is added to the cleanups. */
export function makeTempDir(cleanups: Cleanup[]): string {
  const tmp = mkdtempSync(join(tmpdir(), 'b24gw-demo-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  return tmp;
}

/**
 * Starts the sandbox, the channel and the gateway (SQLite in `tmp`) and opens the gateway's store.
 * Each stop is added to the cleanups as soon as its piece runs, so a failed start leaves nothing.
 */
export async function startEnvironment(
  tmp: string,
  o: Pick<Env, 'format' | 'timeoutMs' | 'signal' | 'paint' | 'out'>,
  cleanups: Cleanup[],
): Promise<Env> {
  const sb = await startSandbox({});
  cleanups.push(() => sb.stop());
  const channel = await startChannel();
  cleanups.push(() => channel.close());
  const dbFile = join(tmp, 'gateway.db');
  const gateway = await startGateway(
    [
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--admin-host',
      '127.0.0.1',
      '--admin-port',
      '0',
      '--db',
      dbFile,
      '--allow-domain',
      new URL(sb.url).host,
      ...oauthFlags(sb),
      ...channelFlags(channel),
      '--channel-format',
      o.format,
      '--retry-schedule',
      RETRY_SCHEDULE,
      // The pull modes' part: a fetch-mode bot and the offline queue, looked at often.
      '--pull',
      '--pull-interval',
      '500ms',
      '--pull-discover',
      '500ms',
      '--log-level',
      'info',
    ],
    join(tmp, 'gateway.log'),
    Math.max(o.timeoutMs, 15_000),
    o.signal,
  );
  cleanups.push(() => gateway.stop());
  const store = new SqliteStore(dbFile);
  cleanups.push(() => store.close());
  return {
    sb,
    portal: sb.portal,
    channel,
    gateway,
    store,
    eventsUrl: `${gateway.url}/events`,
    dbFile,
    format: o.format,
    timeoutMs: o.timeoutMs,
    signal: o.signal,
    paint: o.paint,
    out: o.out,
  };
}

/** Runs the cleanups, last added first; one that fails does not stop the others. */
export async function cleanUp(cleanups: Cleanup[]): Promise<void> {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      // keep cleaning up
    }
  }
}
