import { afterEach, beforeEach, expect } from 'vitest';
import { startSandbox, type DeliveryResult, type Sandbox } from '@b24-im-gateway/sandbox';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import type { StoredEvent } from '../../src/store/types.js';
import { fakeChannel } from '../channel.js';
import { tempDir } from '../helpers.js';
import { startGatewayProcess, type GatewayProcess } from '../process.js';

// What the sandbox end-to-end tests share: a fresh sandbox (a fake Bitrix24 on loopback), a
// fake channel and a temporary folder for each test, the gateway as its own process (the built
// CLI) against them, and the waits and checks made on it.

export const CONNECTOR = 'e2e_connector';

const RETRY_SCHEDULE = '200ms,500ms,1s,2s,5s';

export class SandboxRig {
  tmp!: ReturnType<typeof tempDir>;
  /** The gateway's database, in `tmp`. */
  db!: string;
  sb!: Sandbox;
  channel!: Awaited<ReturnType<typeof fakeChannel>>;
  gw: GatewayProcess | undefined;
  store: SqliteStore | undefined;

  /** @param timeoutMs how long `until` (and so `allDone`) waits unless told otherwise. */
  constructor(private readonly timeoutMs: number) {}

  /** The gateway's command line against this test's sandbox, channel and database. */
  gatewayArgs(extra: string[] = [], retrySchedule = RETRY_SCHEDULE): string[] {
    return [
      '--db',
      this.db,
      '--allow-domain',
      new URL(this.sb.url).host,
      '--client-id',
      this.sb.clientId,
      '--client-secret',
      this.sb.clientSecret,
      '--oauth-server',
      this.sb.url,
      '--channel-url',
      this.channel.url,
      '--channel-secret',
      this.channel.secret,
      '--retry-schedule',
      retrySchedule,
      '--log-level',
      'warn',
      ...extra,
    ];
  }

  /** Starts the gateway process, and opens its store the first time. */
  async startGateway(extra: string[] = []): Promise<GatewayProcess> {
    this.gw = await startGatewayProcess(this.gatewayArgs(extra), { admin: true });
    this.store ??= new SqliteStore(this.db);
    return this.gw;
  }

  eventsUrl(): string {
    return `${this.gw!.url}/events`;
  }

  /** Polls `probe` until it gives a value; on a timeout, fails with the end of the gateway's output. */
  async until<T>(
    probe: () => T | undefined | Promise<T | undefined>,
    what: () => string,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what()}\n--- gateway output ---\n${this.gw?.output().slice(-3000) ?? ''}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The gateway's id of the event a delivery stored (the first delivery, which must be answered 200). */
  storedId(result: DeliveryResult): number {
    const d = result.deliveries[0]!;
    expect(d.status, `${d.code}: ${d.responseBody ?? d.error}`).toBe(200);
    return (JSON.parse(d.responseBody!) as { id: number }).id;
  }

  /** Waits until the store holds exactly `count` events, all done; returns them. */
  async allDone(count: number): Promise<StoredEvent[]> {
    return this.until(
      async () => {
        const events = await this.store!.listEvents();
        return events.length === count && events.every((e) => e.status === 'done') ? events : undefined;
      },
      () => `${count} events done`,
    );
  }
}

/** Sets a rig up before each test of the file and tears it down (the gateway killed) after each. */
export function useSandboxRig({ timeoutMs }: { timeoutMs: number }): SandboxRig {
  const rig = new SandboxRig(timeoutMs);
  beforeEach(async () => {
    rig.tmp = tempDir();
    rig.db = `${rig.tmp.dir}/gateway.db`;
    rig.sb = await startSandbox();
    // A channel names every new message; its ids are then what Bitrix24 must get back.
    rig.channel = await fakeChannel((p) =>
      p.type === 'message.created' ? { externalMessageIds: [`ext-${p.id}`] } : {},
    );
  });
  afterEach(async () => {
    await rig.gw?.kill('SIGKILL');
    rig.gw = undefined;
    await rig.store?.close();
    rig.store = undefined;
    await rig.channel.close();
    await rig.sb.stop();
    rig.tmp.cleanup();
  });
  return rig;
}
