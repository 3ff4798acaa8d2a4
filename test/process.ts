import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;

export { channelFlags, oauthFlags } from '../src/cli/commands/demo/flags.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface GatewayProcess {
  url: string;
  /** The admin listener (/metrics), when started with `admin`. */
  adminUrl: string | undefined;
  child: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ProcessOptions {
  /** Also serve /metrics on a loopback admin port of its own. */
  admin?: boolean;
  env?: Record<string, string>;
  /** How long it may take to answer /healthz. Default 15 s. */
  startMs?: number;
}

/** Starts `b24-im-gateway serve` as its own process and waits until it answers /healthz. */
export async function startGatewayProcess(args: string[], options: ProcessOptions = {}): Promise<GatewayProcess> {
  const port = await freePort();
  const adminPort = options.admin ? await freePort() : undefined;
  const adminArgs = adminPort === undefined ? [] : ['--admin-port', String(adminPort)];
  const gw = await startNodeProcess(
    [cli, 'serve', '--port', String(port), ...adminArgs, ...args],
    port,
    options.env,
    options.startMs,
  );
  return { ...gw, adminUrl: adminPort === undefined ? undefined : `http://127.0.0.1:${adminPort}` };
}

/** Starts a Node script that serves the gateway on `port` (given in its arguments), and waits until it answers /healthz. */
export async function startNodeProcess(
  argv: string[],
  port: number,
  env: Record<string, string> = {},
  startMs = 15_000,
): Promise<GatewayProcess> {
  let out = '';
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`gateway exited with ${child.exitCode ?? child.signalCode}: ${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`gateway did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    adminUrl: undefined,
    child,
    output: () => out,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
