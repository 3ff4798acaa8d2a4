import { GatewayError } from '../../../errors.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sleep } from './wait.js';

// The gateway under demonstration: the built CLI's `serve`, in its own process.

export interface GatewayChild {
  url: string;
  /** The admin listener (/metrics). */
  adminUrl: string | undefined;
  pid: number;
  logFile: string;
  /** The last log lines, for a failure report. */
  tail(): string[];
  /** Why the process is gone (exit code or signal), or undefined while it runs. */
  gone(): string | undefined;
  stop(): Promise<void>;
}

/** The built CLI: in the build beside this folder, else in dist/ (when this file runs from src/). */
function cliPath(): string {
  const built = fileURLToPath(new URL('../../main.js', import.meta.url));
  if (existsSync(built)) return built;
  const dist = fileURLToPath(new URL('../../../../dist/cli/main.js', import.meta.url));
  if (existsSync(dist)) return dist;
  throw new GatewayError('B24GW_DEMO_FAILED', `The built CLI is missing (${dist}); run npm run build`);
}

/**
 * Loaded (`--import`) into a child before its own code: when its parent dies, whatever the
 * reason (even SIGKILL), the pipe to the child's stdin closes and the child stops too. Node
 * preloads it into worker threads as well, whose stdin ends at once: only the main thread watches.
 */
export const WATCHDOG = `data:text/javascript,${encodeURIComponent(
  "import{isMainThread}from'node:worker_threads';if(isMainThread){process.stdin.on('end',()=>process.kill(process.pid,'SIGTERM'));process.stdin.on('error',()=>{});process.stdin.resume();}",
)}`;

/** Starts `serve` with these arguments, copies its output to logFile, resolves once it listens. */
export async function startGateway(
  args: string[],
  logFile: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<GatewayChild> {
  const child: ChildProcess = spawn(process.execPath, ['--import', WATCHDOG, cliPath(), 'serve', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let url: string | undefined;
  let adminUrl: string | undefined;
  let partial = '';
  const onData = (chunk: Buffer) => {
    appendFileSync(logFile, chunk);
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      if (url) continue;
      try {
        const entry = JSON.parse(line) as { url?: unknown; adminUrl?: unknown; msg?: unknown };
        if (typeof entry.url === 'string' && typeof entry.msg === 'string' && entry.msg.startsWith('listening on')) {
          url = entry.url;
          if (typeof entry.adminUrl === 'string') adminUrl = entry.adminUrl;
        }
      } catch {
        // not a log line
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const lastLines = () => lines.slice(-5).join(' | ');
  const stop = async (): Promise<void> => {
    if (ended()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    child.stdin!.destroy();
  };
  const deadline = Date.now() + timeoutMs;
  while (!url) {
    if (ended())
      throw new GatewayError(
        'B24GW_DEMO_FAILED',
        `the gateway exited (${child.exitCode ?? child.signalCode}): ${lastLines()}`,
      );
    if (Date.now() > deadline || signal?.aborted) {
      await stop();
      throw new GatewayError(
        'B24GW_DEMO_FAILED',
        signal?.aborted ? 'interrupted' : `the gateway did not start within ${timeoutMs} ms: ${lastLines()}`,
      );
    }
    await sleep(25);
  }
  const gone = () => (ended() ? `exited with ${child.exitCode ?? child.signalCode}` : undefined);
  return { url, adminUrl, pid: child.pid ?? 0, logFile, tail: () => [...lines], gone, stop };
}
