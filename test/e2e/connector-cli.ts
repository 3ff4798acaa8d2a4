import { execFile } from 'node:child_process';
import { callRest } from '@b24-im-gateway/sandbox';
import { cli, oauthFlags } from '../process.js';
import type { SandboxRig } from './sandbox-rig.js';

// What the connector and doctor end-to-end tests share: the built CLI run against a rig's
// database and sandbox, the gateway installed on the rig's portal, and REST calls by hand.

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI, asynchronously: the sandbox answers in this very process. */
export function runCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** --db and the application's OAuth client, as setup and doctor take them. */
export const portalFlags = (rig: SandboxRig): string[] => ['--db', rig.db, ...oauthFlags(rig.sb)];

/** The imconnector methods `connector setup` calls to register and set up a connector. */
export const SETUP_METHODS = ['imconnector.register', 'imconnector.activate', 'imconnector.connector.data.set'];

/** `connector setup` of a connector on the rig's portal, to the rig's events URL; more flags after it. */
export const setupArgs = (rig: SandboxRig, connector: string): string[] => [
  'connector',
  'setup',
  ...portalFlags(rig),
  '--connector',
  connector,
  '--url',
  rig.eventsUrl(),
];

/** Starts the gateway and installs the application on the rig's portal through it. */
export async function installed(rig: SandboxRig): Promise<void> {
  await rig.startGateway();
  rig.storedId(await rig.sb.install(rig.sb.portal, rig.eventsUrl()));
}

/** A REST call by hand, as another part of the application (or a person in the portal's settings) would make it. */
export async function rest(rig: SandboxRig, method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  const auth = rig.sb.issueTokens(rig.sb.portal).access_token;
  const r = await callRest(rig.sb.restUrl, method, { auth, ...params });
  if (r.status !== 200) throw new Error(`${method}: ${JSON.stringify(r.body)}`);
  return (r.body as { result: unknown }).result;
}
