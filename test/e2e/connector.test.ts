import { describe, expect, it } from 'vitest';
import { connectorEvents } from '../../src/setup/bindings.js';
import { installed, portalFlags, rest, runCli, SETUP_METHODS, setupArgs } from './connector-cli.js';
import { CONNECTOR, useSandboxRig } from './sandbox-rig.js';

// `b24-im-gateway connector setup` and `teardown` through the built CLI against the sandbox: what
// the portal holds afterwards, what a second run does, what it leaves of other bindings.

const rig = useSandboxRig({ timeoutMs: 30_000 });

const setup = (...extra: string[]) =>
  runCli([
    'connector',
    'setup',
    ...portalFlags(rig),
    '--connector',
    CONNECTOR,
    '--name',
    'E2E Chat',
    '--url',
    rig.eventsUrl(),
    ...extra,
  ]);
const handlersOf = (event: string) => rig.sb.portal.handlersFor(event).map((h) => h.handler);
const writes = () =>
  rig.sb.recorder
    .calls()
    .filter((c) => ['event.bind', 'event.unbind', ...SETUP_METHODS, 'imconnector.unregister'].includes(c.method));

describe('connector setup', () => {
  it('a dry run reads and prints the calls, changing nothing; then setup registers, binds, activates and sets the data, and a second run binds nothing again', async () => {
    await installed(rig);
    const portal = rig.sb.portal;
    const dry = await setup('--dry-run', '--line', '3');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`Would set up connector ${CONNECTOR} on portal ${portal.memberId}:`);
    expect(dry.stdout).toContain(`→ event.bind {"event":"ONIMCONNECTORMESSAGEADD","handler":"${rig.eventsUrl()}"}`);
    expect(dry.stdout).toContain(`→ imconnector.activate {"CONNECTOR":"${CONNECTOR}","LINE":3,"ACTIVE":1}`);
    expect(writes()).toEqual([]);
    expect(portal.connectors.size).toBe(0);

    const done = await setup('--line', '3', '--icon-color', '#69acc0', '--data-url', 'https://chat.example.com');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain(`✔ bind ONIMCONNECTORMESSAGEADD to ${rig.eventsUrl()}`);
    expect(done.stdout).toContain('✔ activate on line 3');
    const registered = portal.connectors.get(CONNECTOR)!;
    expect(registered).toMatchObject({ name: 'E2E Chat', chatGroup: false });
    expect(registered.params).toMatchObject({
      PLACEMENT_HANDLER: `${rig.gw!.url}/connector/settings`,
      ICON: { DATA_IMAGE: expect.stringMatching(/^data:image\/svg\+xml,%3Csvg/), COLOR: '#69acc0' },
    });
    for (const event of connectorEvents) expect(handlersOf(event)).toEqual([rig.eventsUrl()]);
    expect(portal.line(CONNECTOR, 3)).toMatchObject({
      active: true,
      data: {
        ID: `${CONNECTOR}_line3`,
        NAME: 'E2E Chat',
        URL: 'https://chat.example.com',
        URL_IM: 'https://chat.example.com',
      },
    });
    // Reads in one request, writes in one: the dry run's read, then setup's read and write.
    expect(
      rig.sb.recorder
        .calls()
        .filter((c) => c.transport !== 'batch' && c.memberId === portal.memberId && c.method === 'batch'),
    ).toHaveLength(3);

    const binds = writes().filter((c) => c.method === 'event.bind').length;
    const again = await setup('--line', '3');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`· ONIMCONNECTORMESSAGEADD already goes to ${rig.eventsUrl()}`);
    expect(again.stdout).toContain('· already active on line 3');
    expect(writes().filter((c) => c.method === 'event.bind')).toHaveLength(binds);
    for (const event of connectorEvents) expect(handlersOf(event)).toEqual([rig.eventsUrl()]);

    // The gateway answers the settings page it registered.
    const page = await fetch(`${rig.gw!.url}/connector/settings`, {
      method: 'POST',
      body: 'PLACEMENT=SETTING_CONNECTOR',
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('b24-im-gateway connector setup');
  });

  it('moves stale bindings of its events to the URL given and leaves every other binding alone; teardown cleans only what setup made', async () => {
    await installed(rig);
    const portal = rig.sb.portal;
    await rest(rig, 'event.bind', { event: 'ONIMCONNECTORMESSAGEADD', handler: 'https://old.example.com/events' });
    await rest(rig, 'event.bind', { event: 'ONCRMLEADADD', handler: 'https://crm.example.com/hook' });
    await rest(rig, 'imbot.register', {
      CODE: 'helper',
      TYPE: 'B',
      EVENT_HANDLER: 'https://bot.example.com/events',
      PROPERTIES: { NAME: 'Helper' },
    });
    const before = portal.handlers.filter((h) => !connectorEvents.includes(h.event)).map((h) => [h.event, h.handler]);

    const done = await setup();
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('✔ unbind ONIMCONNECTORMESSAGEADD from https://old.example.com/events (stale)');
    expect(handlersOf('ONIMCONNECTORMESSAGEADD')).toEqual([rig.eventsUrl()]);
    expect(portal.handlers.filter((h) => !connectorEvents.includes(h.event)).map((h) => [h.event, h.handler])).toEqual(
      before,
    );
    expect(before).toContainEqual(['ONCRMLEADADD', 'https://crm.example.com/hook']);
    expect(before).toContainEqual(['ONIMBOTMESSAGEADD', 'https://bot.example.com/events']);

    const down = await runCli([
      'connector',
      'teardown',
      ...portalFlags(rig),
      '--connector',
      CONNECTOR,
      '--url',
      rig.eventsUrl(),
    ]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain('✔ switch off on line 1');
    expect(down.stdout).toContain(`✔ unregister connector ${CONNECTOR}`);
    for (const event of connectorEvents) expect(handlersOf(event)).toEqual([]);
    expect(portal.connectors.has(CONNECTOR)).toBe(false);
    expect(portal.handlers.map((h) => [h.event, h.handler])).toEqual(before);
  });

  it('a failed step stops the rest and says what was done before it; bad flags are refused before any call', async () => {
    await installed(rig);
    rig.sb.faults.set({
      methodErrors: {
        'imconnector.activate': {
          status: 400,
          error: 'ACCESS_DENIED',
          description: 'You do not have access to this action',
        },
      },
    });
    const failed = await setup();
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /^error B24GW_SETUP_FAILED: Bitrix24 imconnector\.activate .*ACCESS_DENIED.*done before it: register connector e2e_connector .*bind ONAPPTEST to/,
    );
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
    expect(rig.sb.portal.line(CONNECTOR, 1)).toBeUndefined();
    expect(rig.sb.portal.connectors.has(CONNECTOR)).toBe(true);

    const calls = rig.sb.recorder.calls().length;
    expect(
      (
        await runCli([
          'connector',
          'setup',
          ...portalFlags(rig),
          '--connector',
          'my.connector',
          '--url',
          rig.eventsUrl(),
        ])
      ).stderr,
    ).toMatch(/^error B24GW_BAD_INPUT: The connector id must be/);
    expect((await runCli(['connector', 'setup', ...portalFlags(rig), '--connector', CONNECTOR])).stderr).toMatch(
      /^error B24GW_BAD_INPUT: Say where the portal sends events/,
    );
    expect((await runCli([...setupArgs(rig, CONNECTOR), '--portal', 'nobody'])).stderr).toMatch(
      /^error B24GW_PORTAL_NOT_INSTALLED: Portal nobody/,
    );
    expect(rig.sb.recorder.calls()).toHaveLength(calls);
  });
});
