import { afterEach, beforeEach } from 'vitest';
import { startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { Gateway, startServer, type GatewayOptions, type RunningServer } from '../src/index.js';
import { tempDirEach } from './helpers.js';

/**
 * Per test: a sandbox (its rate limit off), a folder, and the in-process gateway the test starts,
 * behind a real server; both are closed after the test.
 */
export function useGatewayRig(sandbox: { clientId: string; clientSecret: string }) {
  const tmp = tempDirEach();
  let sb: Sandbox | undefined;
  let running: { gateway: Gateway; server: RunningServer } | undefined;
  const rig = {
    get sb(): Sandbox {
      return sb!;
    },
    get dir(): string {
      return tmp.dir;
    },
    /** The running server's address. */
    get url(): string {
      return running!.server.url;
    },
    async start(options: GatewayOptions): Promise<Gateway> {
      const gateway = new Gateway(options);
      running = { gateway, server: await startServer(gateway, { port: 0 }) };
      return gateway;
    },
    async stop(): Promise<void> {
      if (!running) return;
      await running.server.close();
      await running.gateway.close();
      running = undefined;
    },
  };
  beforeEach(async () => {
    sb = await startSandbox(sandbox);
    sb.faults.set({ rateLimit: false });
  });
  afterEach(async () => {
    await rig.stop();
    await sb?.stop();
  });
  return rig;
}
