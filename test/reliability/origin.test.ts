import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { errorCodes } from '../../src/errors.js';
import { httpBuildQuery, startSandbox, type Portal } from '@b24-im-gateway/sandbox';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { oauthFlags, startGatewayProcess } from '../process.js';
import { figures, post } from './lib.js';
import { useRig } from './rig.js';

/**
 * Origin proof through the front door of the built gateway, as an attacker would try it: forged
 * first installs, a portal user's crafted re-install, hostile bodies from unknown senders, and a
 * fuzz pass over install events. Only Bitrix24 (the sandbox) may get in, and the genuine portal
 * must never be locked out.
 */

const rig = useRig();
const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2 ** 31);

async function world(extra: string[] = []) {
  rig.sb = await startSandbox();
  rig.gw = await startGatewayProcess([
    '--db',
    `${rig.tmp.dir}/origin.db`,
    ...oauthFlags(rig.sb),
    '--log-level',
    'error',
    ...extra,
  ]);
  return { sb: rig.sb, events: `${rig.gw.url}/events` };
}

const installOf = (
  portal: Portal,
  pair: { access_token: string; refresh_token: string },
  over: Record<string, unknown> = {},
) => ({
  event: 'ONAPPINSTALL',
  data: { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
  ts: String(Math.floor(Date.now() / 1000)),
  auth: {
    access_token: pair.access_token,
    expires_in: '3600',
    scope: portal.scope,
    domain: portal.domain,
    server_endpoint: `${rig.sb!.url}/rest/`,
    status: 'F',
    client_endpoint: portal.clientEndpoint,
    member_id: portal.memberId,
    refresh_token: pair.refresh_token,
    application_token: randomBytes(16).toString('hex'),
    ...over,
  },
});

/** A genuine connector event from the portal, as Bitrix24 posts it: its HTTP status at the gateway. */
async function operatorWrites(portal: Portal, events: string, text: string): Promise<number> {
  portal.ensureConnector('origin_test', 1);
  if (portal.handlersFor('ONIMCONNECTORMESSAGEADD').length === 0) portal.bind('ONIMCONNECTORMESSAGEADD', events);
  const m = await rig.sb!.act.operatorWrites(portal, {
    connector: 'origin_test',
    line: 1,
    externalChatId: 'origin',
    text,
  });
  return m.delivery.deliveries[0]!.status;
}

const storedCount = async () => {
  const store = new SqliteStore(`${rig.tmp.dir}/origin.db`);
  try {
    return { events: (await store.listEvents()).length, portals: await store.listPortals() };
  } finally {
    await store.close();
  }
};

it('forged first installs are refused, and the genuine install of the portal still works after them', async () => {
  const { sb, events } = await world(['--allow-domain', '*.bitrix24.com', '--allow-domain', '127.0.0.1:*']);
  const victim = sb.portal;
  const forgeries = {
    'empty refresh token': installOf(victim, { access_token: sb.issueTokens(victim).access_token, refresh_token: '' }),
    'no refresh token': installOf(
      victim,
      { access_token: sb.issueTokens(victim).access_token, refresh_token: '' },
      { refresh_token: undefined },
    ),
    '* spanning several labels': installOf(victim, sb.issueTokens(victim), {
      domain: 'x.bitrix24.com.attacker.example',
    }),
    'another TLD': installOf(victim, sb.issueTokens(victim), { domain: 'x.bitrix24.xyz' }),
    'a pair of another portal': installOf(victim, sb.issueTokens(sb.addPortal())),
    'a pair of a user who is no administrator': installOf(victim, sb.issueTokens(victim, 7)),
  };
  let refused = 0;
  for (const body of Object.values(forgeries)) {
    const r = await post(events, httpBuildQuery(body));
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    refused++;
  }
  expect(await storedCount()).toEqual({ events: 0, portals: [] });
  expect((await sb.install(victim, events)).deliveries[0]!.status).toBe(200);
  expect(await operatorWrites(victim, events, 'the genuine portal')).toBe(200);
  figures('origin/forged-first-install', { forgeries: Object.keys(forgeries).length, refused, genuineAfter: 'taken' });
});

it("a portal user's crafted re-install never replaces the genuine token; a real uninstall and install do", async () => {
  const { sb, events } = await world(['--allow-domain', '127.0.0.1:*']);
  const portal = sb.portal;
  expect((await sb.install(portal, events)).deliveries[0]!.status).toBe(200);
  portal.bind('ONAPPUNINSTALL', events);
  const genuine = portal.applicationToken;
  let refused = 0;
  for (const userId of [portal.adminUserId, 7, 8]) {
    const crafted = installOf(portal, sb.issueTokens(portal, userId));
    const r = await post(events, httpBuildQuery(crafted));
    expect(r.status).toBe(401);
    refused++;
    // The crafted token is refused; the genuine portal's events keep arriving.
    const forgedEvent = {
      event: 'ONIMCONNECTORSTATUSDELETE',
      event_handler_id: '1',
      data: { connector: 'origin_test', line: '1' },
      ts: '1',
      auth: { domain: portal.domain, member_id: portal.memberId, application_token: crafted.auth.application_token },
    };
    expect((await post(events, httpBuildQuery(forgedEvent))).status).toBe(401);
    expect(await operatorWrites(portal, events, `still here ${userId}`)).toBe(200);
  }
  expect(portal.applicationToken).toBe(genuine);
  expect((await sb.uninstall(portal)).deliveries[0]!.status).toBe(200);
  expect((await sb.install(portal, events)).deliveries[0]!.status).toBe(200);
  expect(portal.applicationToken).not.toBe(genuine);
  expect(await operatorWrites(portal, events, 'after the re-install')).toBe(200);
  figures('origin/crafted-reinstall', { crafted: refused, genuineAfterEach: refused, reinstall: 'taken' });
});

it('a hostile body from an unknown sender is refused for who sent it, before it is decoded', async () => {
  const { events } = await world(['--allow-domain', '127.0.0.1:*']);
  // About 1 MB: thousands of keys nested 26 levels, within every decoding limit, with a wrong token.
  const deep = Array.from({ length: 9_000 }, (_, i) => `d${i % 97}${'[k]'.repeat(25)}[${i}]=${'v'.repeat(20)}`).join(
    '&',
  );
  const body = `event=ONIMCONNECTORMESSAGEADD&${deep}&auth%5Bmember_id%5D=${'a'.repeat(32)}&auth%5Bapplication_token%5D=${'b'.repeat(32)}`;
  expect(body.length).toBeGreaterThan(900_000);
  const started = Date.now();
  const n = 20;
  for (let i = 0; i < n; i++) {
    const r = await post(events, body);
    expect(r).toMatchObject({ status: 401, json: { error: { code: 'B24GW_UNAUTHORIZED' } } });
  }
  const ms = (Date.now() - started) / n;
  figures('origin/hostile-unknown-sender', { bodies: n, bytes: body.length, msPerRefusal: ms.toFixed(1) });
  expect((await storedCount()).events).toBe(0);
});

it('more deliveries than --max-pending at once get 503 with Retry-After; every 200 is stored', async () => {
  const { sb, events } = await world(['--allow-domain', '127.0.0.1:*', '--max-pending', '4']);
  expect((await sb.install(sb.portal, events)).deliveries[0]!.status).toBe(200);
  const body = (i: number) =>
    httpBuildQuery({
      event: 'ONIMCONNECTORSTATUSDELETE',
      event_handler_id: '1',
      data: { connector: 'c', line: String(i) },
      ts: String(1_700_000_000 + i),
      auth: { domain: sb.portal.domain, member_id: sb.portal.memberId, application_token: sb.portal.applicationToken },
    });
  const answers = await Promise.all(
    Array.from({ length: 400 }, async (_, i) => {
      const res = await fetch(events, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: body(i),
      });
      return {
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        code: ((await res.json()) as { error?: { code: string } }).error?.code,
      };
    }),
  );
  const ok = answers.filter((a) => a.status === 200).length;
  const busy = answers.filter((a) => a.status === 503);
  expect(ok + busy.length).toBe(400);
  expect(busy.length).toBeGreaterThan(0);
  for (const b of busy) expect(b).toMatchObject({ code: 'B24GW_BUSY', retryAfter: '1' });
  expect((await storedCount()).events).toBe(ok + 1); // and the install
  figures('origin/bounded-intake', { sent: 400, acknowledged: ok, busy: busy.length, lost: 0 });
});

it('fuzz: no install of any shape but a genuine one is taken, and every answer has a documented code', async () => {
  const { sb, events } = await world(['--allow-domain', '127.0.0.1:*']);
  const victim = sb.portal;
  const other = sb.addPortal();
  const runs = Number(process.env.RELIABILITY_PROPERTY_RUNS ?? 300);
  const field = fc.constantFrom(
    'access_token',
    'refresh_token',
    'member_id',
    'domain',
    'application_token',
    'client_endpoint',
    'server_endpoint',
    'expires_in',
    'status',
  );
  const pairOf = fc.constantFrom<'made-up' | 'non-admin' | 'other-portal' | 'none'>(
    'made-up',
    'non-admin',
    'other-portal',
    'none',
  );
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), field }),
    fc.record({ kind: fc.constant('empty' as const), field }),
    fc.record({
      kind: fc.constant('set' as const),
      field,
      value: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom(
          victim.domain,
          victim.memberId,
          other.memberId,
          other.domain,
          'x.bitrix24.com',
          `${victim.domain}.evil`,
          ' ',
          '0',
        ),
      ),
    }),
    fc.record({
      kind: fc.constant('code' as const),
      value: fc.constantFrom('onappinstall', 'OnAppInstall', ' ONAPPINSTALL', 'ONAPPINSTALL ', 'ONAPPINSTAL'),
    }),
    fc.record({ kind: fc.constant('nest' as const), field }),
  );
  const answers = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(pairOf, fc.array(mutation, { maxLength: 4 }), async (pairKind, mutations) => {
      const pair =
        pairKind === 'non-admin'
          ? sb.issueTokens(victim, 7)
          : pairKind === 'other-portal'
            ? sb.issueTokens(other)
            : pairKind === 'none'
              ? { access_token: '', refresh_token: '' }
              : { access_token: randomBytes(16).toString('hex'), refresh_token: randomBytes(16).toString('hex') };
      const body = installOf(victim, pair) as { event: string; auth: Record<string, unknown> };
      for (const m of mutations) {
        if (m.kind === 'drop') delete body.auth[m.field];
        else if (m.kind === 'empty') body.auth[m.field] = '';
        else if (m.kind === 'set') body.auth[m.field] = m.value;
        else if (m.kind === 'code') body.event = m.value;
        else body.auth[m.field] = { nested: [body.auth[m.field]] };
      }
      // Another portal's genuine pair under that portal's own member id is that portal's genuine
      // install (the sandbox serves both portals at one host), not a forgery against the victim.
      fc.pre(!(pairKind === 'other-portal' && body.auth.member_id === other.memberId));
      const r = await post(events, httpBuildQuery(body));
      const code =
        (r.json as { error?: { code?: string } } | undefined)?.error?.code ?? (r.status === 200 ? 'ok' : 'none');
      answers.set(code, (answers.get(code) ?? 0) + 1);
      expect(r.status).not.toBe(200);
      expect(r.status).not.toBe(0);
      expect(Object.keys(errorCodes)).toContain(code);
      expect(errorCodes[code as keyof typeof errorCodes].status).toBe(r.status);
    }),
    { numRuns: runs, seed },
  );
  const stored = await storedCount();
  expect(stored.portals).toEqual([]);
  expect(stored.events).toBe(0);
  // The genuine install still works after all of it. The fuzz's installs with the portal's real
  // tokens were checked against the portal and may have spent its REST bucket (50, 2 a second):
  // then the gateway cannot ask the portal yet, says so with 503, and takes the install once it can.
  let genuine = (await sb.install(victim, events)).deliveries[0]!;
  for (let i = 0; genuine.status === 503 && i < 30; i++) {
    expect(genuine.responseBody).toContain('B24GW_VERIFY_UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 1_000));
    genuine = (await sb.install(victim, events)).deliveries[0]!;
  }
  expect(genuine.status).toBe(200);
  figures('origin/install-fuzz', { seed, runs, ...Object.fromEntries(answers) });
});
