import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { cli } from '../process.js';

// `b24-im-gateway demo` as a user runs it: sandbox, gateway process and channel started, the
// conversation played and checked, then everything stopped and the temporary folder removed.

/** The shipped CLI's `demo`, as a user types it. */
const demoArgs = (args: string[]): string[] => [cli, 'demo', ...args];

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const running: Run[] = [];
const leftovers: string[] = [];

function startDemo(args: string[]): Run {
  const child = spawn(process.execPath, demoArgs(args), { stdio: ['ignore', 'pipe', 'pipe'], cwd: dirname(cli) });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const run = { child, output: () => out, exited };
  running.push(run);
  return run;
}

afterEach(async () => {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exited;
  }
  for (const dir of leftovers.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function until(test: () => boolean, what: string, run: Run, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The gateway's pid and temporary folder, from the demo's header. */
function started(output: string): { pid: number; dir: string } {
  const m = /own process \(pid (\d+)\), SQLite (\S+)\/gateway\.db/.exec(output);
  if (!m) throw new Error(`no gateway line in:\n${output}`);
  return { pid: Number(m[1]), dir: m[2]! };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('plays the whole conversation, prints each step and PASS, and leaves no process or file behind', async () => {
  const run = startDemo(['--format', 'html']);
  const code = await run.exited;
  const out = run.output();
  expect(code, out).toBe(0);
  // Plain text when stdout is not a terminal.
  expect(out.includes(`${String.fromCharCode(27)}[`)).toBe(false);
  for (const event of [
    'ONAPPINSTALL',
    'ONIMCONNECTORDIALOGSTART',
    'ONIMCONNECTORMESSAGEADD',
    'ONIMCONNECTORMESSAGEUPDATE',
    'ONIMCONNECTORMESSAGEDELETE',
    'ONOPENLINEMESSAGEUPDATE',
    'ONIMBOTMESSAGEADD',
    'ONIMBOTMESSAGEUPDATE',
    'ONIMCONNECTORDIALOGFINISH',
  ]) {
    expect(out).toContain(`Bitrix24 -> gateway     ${event}`);
  }
  expect(out).toMatch(/app\.info with the install's access token.*<- 200/);
  expect(out).toMatch(/message\.created "<b>Maria Lopez:<\/b> <br>Hello Anna!/);
  expect(out).toMatch(/MESSAGES: im \{chat_id \d+, message_id \d+\}, message\.id \["ext-001"\]/);
  // The client writes and reads through the channel and the gateway, never the portal's REST itself.
  expect(out).toMatch(
    /channel -> gateway +POST \/channel\/events, signed <- 200, kept as customer action #1\n.*customer action #1 message\.created: sent\n.*gateway -> Bitrix24 +imconnector\.send\.messages <- 200/,
  );
  expect(out).toMatch(/gateway -> Bitrix24 +imconnector\.send\.status\.reading <- 200/);
  expect(out).toMatch(
    /^PASS: 14 steps checked; 13 events done; 7 signed channel payloads verified; 3 delivery statuses with message\.id lists; 2 customer actions through the gateway/m,
  );
  // The pull modes: a fetch-mode bot's event and an offline record, each pulled, stored and confirmed.
  expect(out).toMatch(/imbot\.v2\.Event\.get botId \d+: stored as event #11 \(delivery fetch\)/);
  expect(out).toMatch(/event\.offline\.get clear=0: stored as event #13 \(delivery offline\)/);
  expect(out).toContain('the offline queue is empty: cleared once the record was stored');
  expect(out).not.toContain('FAIL');
  const { pid, dir } = started(out);
  expect(alive(pid)).toBe(false);
  expect(existsSync(dir)).toBe(false);
}, 90_000);

it('--keep leaves everything running until Ctrl+C, then stops it all', async () => {
  const run = startDemo(['--keep']);
  // The banner's lines may arrive in more than one chunk: wait for the last one read below.
  await until(() => /gateway {14}http:\/\/127\.0\.0\.1:\d+\/events/.test(run.output()), 'the --keep banner', run);
  const { pid, dir } = started(run.output());
  expect(run.output()).toMatch(/^PASS: /m);
  const gateway = /gateway {14}(http:\/\/127\.0\.0\.1:\d+)\/events/.exec(run.output())![1]!;
  expect((await fetch(`${gateway}/healthz`)).status).toBe(200);
  const metrics = /metrics: (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(run.output())![1]!;
  expect(metrics).not.toBe(gateway);
  expect(await (await fetch(`${metrics}/metrics`)).text()).toContain('b24gw_events_received_total');
  const sandbox = /sandbox control API {2}(http:\/\/127\.0\.0\.1:\d+)\/sandbox/.exec(run.output())![1]!;
  // More traffic while it runs is shown as it happens.
  const scenario = await fetch(`${sandbox}/sandbox/scenario`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'conversation', messages: 1 }),
  });
  expect(((await scenario.json()) as { ok: boolean }).ok).toBe(true);
  await until(() => /gateway -> channel {3}dialog\.finished evt_/.test(run.output()), 'the live channel log', run);

  run.child.kill('SIGINT');
  expect(await run.exited).toBe(0);
  expect(run.output()).toContain('Stopping.');
  expect(alive(pid)).toBe(false);
  expect(existsSync(dir)).toBe(false);
}, 90_000);

it('the gateway process does not outlive a demo that is killed outright', async () => {
  const run = startDemo(['--keep']);
  await until(() => run.output().includes('Ctrl+C stops it'), 'the --keep banner', run);
  const { pid, dir } = started(run.output());
  leftovers.push(dir); // SIGKILL leaves no chance to remove it
  run.child.kill('SIGKILL');
  await run.exited;
  await until(() => !alive(pid), `gateway pid ${pid} to exit`, run, 15_000);
}, 90_000);
