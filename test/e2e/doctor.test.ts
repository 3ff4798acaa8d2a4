import { describe, expect, it } from 'vitest';
import { callControl } from '@b24-im-gateway/sandbox';
import { installed, portalFlags, rest, runCli, setupArgs, type CliRun } from './connector-cli.js';
import { CONNECTOR, useSandboxRig } from './sandbox-rig.js';

// `b24-im-gateway doctor` through the built CLI against the sandbox: a healthy setup, then each
// broken state it diagnoses, each with its ✖, its fix and a failing exit.

const rig = useSandboxRig({ timeoutMs: 30_000 });

/** Installed and set up as `connector setup` does it. */
async function healthy(): Promise<void> {
  await installed(rig);
  const r = await runCli([...setupArgs(rig, CONNECTOR)]);
  expect(r.code, r.stderr).toBe(0);
}

const doctor = (...extra: string[]) =>
  runCli(['doctor', ...portalFlags(rig), '--url', rig.eventsUrl(), '--connector', CONNECTOR, ...extra]);

/** The line of one check. */
const line = (r: CliRun, name: string): string =>
  r.stdout.split('\n').find((l) => l.slice(2).startsWith(`${name}:`)) ?? `(no ${name} line in)\n${r.stdout}`;

function failedOn(r: CliRun, name: string): string {
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^error B24GW_CHECKS_FAILED: \\d checks? failed: .*${name}`));
  const l = line(r, name);
  expect(l).toMatch(/^✖ /);
  expect(l).toContain(' — fix: ');
  return l;
}

describe('doctor', () => {
  it('passes a healthy setup: every check ✔ (pulls skipped: nothing is pulled), exit 0, and --json says the same', async () => {
    await healthy();
    const r = await doctor();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const name of [
      'portal',
      'token',
      'bindings',
      'round trip',
      'connector',
      'REST budget',
      'clock',
      'inbox',
      'outboxes',
    ])
      expect(line(r, name)).toMatch(/^✔ /);
    expect(line(r, 'round trip')).toMatch(/reached the gateway in \d+ ms, with the right application_token/);
    expect(line(r, 'connector')).toContain(`${CONNECTOR} is registered and active on line 1`);
    expect(line(r, 'pulls')).toMatch(/^– pulls: nothing pulled from this portal/);
    const json = JSON.parse((await doctor('--json')).stdout) as { name: string; ok: boolean | null }[];
    expect(json.filter((c) => c.ok === false)).toEqual([]);
    expect(json.map((c) => c.name)).toContain('round trip');
  });

  it('a binding missing', async () => {
    await healthy();
    await rest(rig, 'event.unbind', { event: 'ONIMCONNECTORMESSAGEUPDATE', handler: rig.eventsUrl() });
    const l = failedOn(await doctor(), 'bindings');
    expect(l).toContain('not bound: ONIMCONNECTORMESSAGEUPDATE');
    expect(l).toContain(`fix: run b24-im-gateway connector setup --url ${rig.eventsUrl()}`);
  });

  it('a binding to the wrong URL', async () => {
    await healthy();
    await rest(rig, 'event.unbind', { event: 'ONIMCONNECTORMESSAGEADD', handler: rig.eventsUrl() });
    await rest(rig, 'event.bind', { event: 'ONIMCONNECTORMESSAGEADD', handler: 'https://old.example.com/events' });
    const l = failedOn(await doctor(), 'bindings');
    expect(l).toContain(
      `bound elsewhere, not to ${rig.eventsUrl()}: ONIMCONNECTORMESSAGEADD → https://old.example.com/events`,
    );
  });

  it('a revoked refresh token: the token check fails, and the checks that need it say so', async () => {
    await healthy();
    rig.sb.faults.expireTokens({ refresh: true });
    const r = await doctor();
    const l = failedOn(r, 'token');
    expect(l).toMatch(/invalid_grant/);
    expect(l).toContain('fix: the portal refused the stored tokens');
    expect(line(r, 'round trip')).toBe('– round trip: not checked: it needs a working token');
  });

  it('the connector inactive on its line', async () => {
    await healthy();
    await rest(rig, 'imconnector.activate', { CONNECTOR, LINE: 1, ACTIVE: 0 });
    const l = failedOn(await doctor(), 'connector');
    expect(l).toContain(`${CONNECTOR} is registered; not active on line 1`);
    expect(l).toContain(`fix: run b24-im-gateway connector setup --connector ${CONNECTOR} --line 1`);
  });

  it('the handler unreachable: the round trip times out', async () => {
    await healthy();
    await rig.gw!.kill('SIGTERM');
    const l = failedOn(await doctor('--timeout', '1500ms'), 'round trip');
    expect(l).toContain(
      `no ONAPPTEST reached this gateway's store within 2 s of event.test (sent to ${rig.eventsUrl()})`,
    );
    expect(rig.sb.recorder.deliveries({ code: 'ONAPPTEST' }).at(-1)).toMatchObject({ ok: false });
  });

  it("the portal's application_token no longer the one installed: the test event arrives and is refused", async () => {
    await healthy();
    await callControl(rig.sb.url, '/sandbox/portals/application-token', {});
    const l = failedOn(await doctor(), 'round trip');
    expect(l).toContain("with another application_token than the install's");
    expect(l).toContain('fix: the application was reinstalled without the gateway seeing ONAPPINSTALL');
    expect(rig.sb.recorder.deliveries({ code: 'ONAPPTEST' }).at(-1)).toMatchObject({ status: 401 });
  });

  it('no portal installed: the first check says so', async () => {
    await rig.startGateway();
    const none = await runCli(['doctor', ...portalFlags(rig)]);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/^✖ portal: no portal is installed in this database — fix: install the application/);
  });
});
