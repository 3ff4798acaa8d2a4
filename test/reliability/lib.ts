import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cli } from '../process.js';

/** Every wait in this suite is bounded: polls `check` until it is true or `timeoutMs` passes. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

/** Waits until no event of `store` is pending, retrying or running; false if that did not come within `timeoutMs`. */
export const eventsSettle = (
  store: { countEvents(): Promise<Record<'pending' | 'retry' | 'processing', number>> },
  timeoutMs: number,
  stepMs: number,
): Promise<boolean> =>
  waitUntil(
    async () => {
      const c = await store.countEvents();
      return c.pending + c.retry + c.processing === 0;
    },
    timeoutMs,
    stepMs,
  );

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One line of figures per scenario, in one format, so a CI log can be read at a glance. */
export function figures(scenario: string, f: Record<string, number | string>): string {
  const line = `[reliability] ${scenario}: ${Object.entries(f)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')}`;
  console.log(line);
  return line;
}

/** Resident set size of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)}MB`;

/** A POST with a deadline; never throws: status 0 when no answer came. */
export async function post(
  url: string,
  body: string | Buffer,
  contentType = 'application/x-www-form-urlencoded',
  timeoutMs = 10_000,
): Promise<{ status: number; json: unknown; error?: string }> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    return { status: 0, json: undefined, error: cause?.code ?? (e as Error).name };
  }
}

/** Runs a CLI command of the built gateway with a deadline. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** A small seeded PRNG (mulberry32), so a failing run can be repeated with the seed it printed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(list: readonly T[]): T => list[int(list.length)]!,
    chance: (p: number) => next() < p,
  };
}
export type Rng = ReturnType<typeof prng>;

export const seedFromEnv = (): number => {
  const fromEnv = Number(process.env.RELIABILITY_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : (Date.now() % 2_147_483_647) + 1;
};

export function shuffle<T>(list: T[], rng: Rng): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/** The two portals of the fixtures and their application tokens. */
export const PORTAL_A = { member: 'a223c6b3710f85df22e9377d6c4f7553', token: '51856fefc120afa4b628cc82d3935cce' };
export const PORTAL_B = { member: 'bac1cd5c8940947a75e0d71b1a84e348', token: '831c76b092f9f135d9b6b36c3a720757' };
