import { afterEach, beforeEach } from 'vitest';
import type { Sandbox } from '@b24-im-gateway/sandbox';
import { fakeChannel } from '../channel.js';
import { tempDir } from '../helpers.js';
import { channelFlags, oauthFlags, type GatewayProcess } from '../process.js';
import { PORTAL_B } from './lib.js';

/** What a scenario runs against: a fresh folder and fake channel for each test; the gateway and a sandbox when it starts them. */
export interface Rig {
  tmp: ReturnType<typeof tempDir>;
  channel: Awaited<ReturnType<typeof fakeChannel>>;
  gw: GatewayProcess | undefined;
  sb: Sandbox | undefined;
}

/** Sets a rig up before each test of the file; after each, kills the gateway and stops the sandbox the test started. */
export function useRig(): Rig {
  const rig = { gw: undefined, sb: undefined } as Rig;
  beforeEach(async () => {
    rig.tmp = tempDir();
    rig.channel = await fakeChannel();
  });
  afterEach(async () => {
    await rig.gw?.kill('SIGKILL');
    rig.gw = undefined;
    await rig.sb?.stop();
    rig.sb = undefined;
    await rig.channel.close();
    rig.tmp.cleanup();
  });
  return rig;
}

/** serve's flags for portal B's known token and the rig's channel, on a database file. */
export const knownPortalFlags = (rig: Rig, db: string): string[] => [
  '--db',
  db,
  '--app-token',
  `${PORTAL_B.member}=${PORTAL_B.token}`,
  ...channelFlags(rig.channel),
];

/** serve's flags for installs from the rig's sandbox (proven by its OAuth server) and the rig's channel. */
export const sandboxFlags = (rig: Rig, sb: Sandbox, db: string): string[] => [
  '--db',
  db,
  '--allow-domain',
  '127.0.0.1:*',
  ...oauthFlags(sb),
  ...channelFlags(rig.channel),
];
