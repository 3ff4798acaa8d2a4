import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { tempDir } from '../../test/helpers.js';
import { Gateway, type GatewayOptions } from '../gateway.js';
import { httpBuildQuery, startSandbox, type Portal, type Sandbox } from '@b24-im-gateway/sandbox';
import { createLogger } from '../log.js';
import { startServer, type RunningServer } from '../server/start.js';
import type { SqliteStore } from '../store/sqlite/store.js';

/**
 * The trust model of installs, against the sandbox (a fake Bitrix24 with a real OAuth server):
 * what proves a portal on a first install, a re-install and an uninstall, and what is refused.
 */

let tmp: ReturnType<typeof tempDir>;
let sb: Sandbox;
let running: RunningServer;
let gateway: Gateway;
let events: string;

/** What the gateway logged: a refusal's reason and detail are there, never in the answer. */
let logged: { reason?: string; msg: string }[] = [];
const refusal = (reason: string, detail: string) =>
  expect(logged.filter((l) => l.reason === reason).map((l) => l.msg)).toContainEqual(expect.stringContaining(detail));

const start = async (options: GatewayOptions = {}) => {
  logged = [];
  gateway = new Gateway({
    db: `${tmp.dir}/install.db`,
    allowDomains: ['127.0.0.1:*'],
    bitrix: { clientId: sb.clientId, clientSecret: sb.clientSecret, oauthServer: sb.url },
    logger: createLogger({
      level: 'debug',
      destination: { write: (c: string) => void logged.push(JSON.parse(c) as { reason?: string; msg: string }) },
    }),
    ...options,
  });
  running = await startServer(gateway, { port: 0, role: 'intake' });
  events = `${running.url}/events`;
};

beforeEach(async () => {
  tmp = tempDir();
  sb = await startSandbox();
});
afterEach(async () => {
  await running?.close();
  await sb.stop();
  tmp.cleanup();
});

const post = async (payload: Record<string, unknown> | string) => {
  const res = await fetch(events, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: typeof payload === 'string' ? payload : httpBuildQuery(payload),
  });
  return {
    status: res.status,
    body: (await res.json()) as { ok?: boolean; error?: { code: string; message: string } },
  };
};

/** An install as a portal user could craft it: a real pair of `portal` for `userId`, and a token of their choosing. */
const craftedInstall = (portal: Portal, userId = portal.adminUserId, over: Record<string, unknown> = {}) => {
  const pair = sb.issueTokens(portal, userId);
  return {
    event: 'ONAPPINSTALL',
    data: { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
    ts: String(Math.floor(Date.now() / 1000)),
    auth: {
      access_token: pair.access_token,
      expires_in: '3600',
      scope: portal.scope,
      domain: portal.domain,
      server_endpoint: `${sb.url}/rest/`,
      status: 'F',
      client_endpoint: portal.clientEndpoint,
      member_id: portal.memberId,
      refresh_token: pair.refresh_token,
      application_token: 'crafted-token-00000000000000000',
      ...over,
    },
  };
};

/** An operator's message on the portal, sent as Bitrix24 sends it: the answer tells whether the gateway took it. */
const genuineEvent = async (portal: Portal, text = 'hello') => {
  portal.ensureConnector('trust_test', 1);
  portal.bind('ONIMCONNECTORMESSAGEADD', events);
  const m = await sb.act.operatorWrites(portal, { connector: 'trust_test', line: 1, externalChatId: 'chat-1', text });
  return m.delivery.deliveries[0]!.status;
};

/** The same event with the token a forger chose. */
const eventWithToken = (portal: Portal, token: string) =>
  formFixture('imconnector-message-update')
    .replaceAll('bac1cd5c8940947a75e0d71b1a84e348', portal.memberId)
    .replace('831c76b092f9f135d9b6b36c3a720757', token);

describe('first install', () => {
  beforeEach(() => start());

  it('is taken when the authorization server names the same portal, and its events then are', async () => {
    const portal = sb.portal;
    expect((await sb.install(portal, events)).deliveries[0]?.status).toBe(200);
    expect(await genuineEvent(portal)).toBe(200);
    const stored = await gateway.store.getPortal(portal.memberId);
    // The install's refresh token was spent on the proof: the pair kept is the one the exchange gave.
    const sent = sb.recorder.deliveries({ code: 'ONAPPINSTALL' })[0]!.payload.auth as Record<string, string>;
    expect(stored?.refreshToken).toBeTruthy();
    expect(stored?.refreshToken).not.toBe(sent.refresh_token);
    // The application token is kept as a digest only.
    const raw = (gateway.store as SqliteStore).db
      .prepare('SELECT application_token FROM portals')
      .pluck()
      .get() as string;
    expect(raw).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(raw).not.toContain(portal.applicationToken);
  });

  it('is refused without a refresh token to prove it, empty or missing', async () => {
    for (const refresh of ['', undefined]) {
      const body = craftedInstall(sb.portal, sb.portal.adminUserId, { refresh_token: refresh });
      const r = await post(body);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    expect(await gateway.store.getPortal(sb.portal.memberId)).toBeUndefined();
    expect(await gateway.store.listEvents()).toHaveLength(0);
    refusal('install_not_proven', 'carries no refresh_token');
  });

  it("is refused when the tokens belong to another portal (an attacker's own), and the genuine install still works after", async () => {
    const victim = sb.portal;
    const attackers = sb.addPortal();
    const forged = craftedInstall(attackers);
    forged.auth.member_id = victim.memberId;
    forged.auth.domain = victim.domain;
    const r = await post(forged);
    expect(r).toMatchObject({ status: 401, body: { error: { code: 'B24GW_UNAUTHORIZED' } } });
    expect(await gateway.store.getPortal(victim.memberId)).toBeUndefined();
    refusal('install_not_proven', `its tokens belong to portal ${attackers.memberId}`);
    expect((await sb.install(victim, events)).deliveries[0]?.status).toBe(200);
    expect(await genuineEvent(victim)).toBe(200);
  });

  it('is refused with a refresh token the authorization server does not know', async () => {
    const r = await post(
      craftedInstall(sb.portal, sb.portal.adminUserId, { refresh_token: 'made-up-refresh-token-0000000000' }),
    );
    expect(r.status).toBe(401);
    refusal('install_not_proven', 'the authorization server refused its refresh token');
    expect(await gateway.store.getPortal(sb.portal.memberId)).toBeUndefined();
  });

  it('is refused when the installing user is not an administrator', async () => {
    const r = await post(craftedInstall(sb.portal, 7, { application_token: sb.portal.applicationToken }));
    expect(r.status).toBe(401);
    refusal('not_admin', 'the installing user is not an administrator of the portal');
    expect(await gateway.store.getPortal(sb.portal.memberId)).toBeUndefined();
  });

  it('is refused when app.info names another application than --app-code', async () => {
    await running.close();
    await start({ appCode: 'local.other.app' });
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(401);
    refusal('wrong_application', 'not "local.other.app"');
    expect(await gateway.store.getPortal(sb.portal.memberId)).toBeUndefined();
  });
});

describe('while Bitrix24 cannot be asked', () => {
  beforeEach(() => start());

  it('an install is answered 503 B24GW_VERIFY_UNAVAILABLE (Bitrix24 sends it again), and taken once the servers answer', async () => {
    for (const outage of ['http503', 'reset'] as const) {
      sb.faults.set({ outage });
      const r = await sb.install(sb.portal, events);
      expect(r.deliveries[0]?.status).toBe(503);
      expect(await gateway.store.getPortal(sb.portal.memberId)).toBeUndefined();
    }
    expect(logged.map((l) => l.msg)).toContainEqual(
      expect.stringContaining('the authorization server could not be asked'),
    );
    sb.faults.set({
      outage: false,
      methodErrors: { 'app.info': { status: 500, error: 'INTERNAL', description: 'down' } },
    });
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(503);
    expect(logged.map((l) => l.msg)).toContainEqual(expect.stringContaining('app.info answered HTTP 500'));
    sb.faults.set({ methodErrors: { 'user.admin': { status: 401, error: 'INVALID_TOKEN', description: 'no' } } });
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(401);
    refusal('install_not_proven', "the portal refused user.admin with the install's token (HTTP 401, INVALID_TOKEN)");
    sb.faults.clear();
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(200);
    expect(await genuineEvent(sb.portal)).toBe(200);
  });
});

describe('re-install of an installed portal', () => {
  beforeEach(async () => {
    await start();
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(200);
    sb.portal.bind('ONAPPUNINSTALL', events);
  });

  it("keeps the genuine token against a portal user's crafted install, administrator or not", async () => {
    const portal = sb.portal;
    const genuineToken = portal.applicationToken;
    for (const userId of [7, portal.adminUserId]) {
      const r = await post(craftedInstall(portal, userId));
      expect(r).toMatchObject({ status: 401, body: { error: { code: 'B24GW_UNAUTHORIZED' } } });
    }
    expect((await post(eventWithToken(portal, 'crafted-token-00000000000000000'))).status).toBe(401);
    expect(portal.applicationToken).toBe(genuineToken);
    refusal('not_admin', 'is not an administrator');
    refusal('reinstall_while_installed', 'would replace the application token of an installed portal');
    expect(await genuineEvent(portal)).toBe(200);
  });

  it('takes the new token after a real uninstall and install, without an operator', async () => {
    const portal = sb.portal;
    const old = portal.applicationToken;
    expect((await sb.uninstall(portal)).deliveries[0]?.status).toBe(200);
    expect((await gateway.store.getPortal(portal.memberId))?.applicationToken).toBeNull();
    expect((await sb.install(portal, events)).deliveries[0]?.status).toBe(200);
    expect(portal.applicationToken).not.toBe(old);
    expect(await genuineEvent(portal)).toBe(200);
    expect((await post(eventWithToken(portal, old))).status).toBe(401);
  });

  it('takes the new token when the uninstall never arrived: the old credentials are dead', async () => {
    const portal = sb.portal;
    expect((await sb.uninstall(portal, { handlerUrl: 'http://127.0.0.1:9/nowhere' })).deliveries[0]?.status).not.toBe(
      200,
    );
    expect((await sb.install(portal, events)).deliveries[0]?.status).toBe(200);
    expect(await genuineEvent(portal)).toBe(200);
  });
});

describe('uninstall', () => {
  beforeEach(async () => {
    await start();
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(200);
  });

  it('with the real token but while the portal still accepts the install is refused, and the portal kept', async () => {
    const portal = sb.portal;
    const before = await gateway.store.getPortal(portal.memberId);
    const forged = formFixture('app-uninstall')
      .replace('a223c6b3710f85df22e9377d6c4f7553', portal.memberId)
      .replace('51856fefc120afa4b628cc82d3935cce', portal.applicationToken);
    expect((await post(forged)).status).toBe(401);
    expect((await gateway.store.getPortal(portal.memberId))?.applicationToken).toBe(before?.applicationToken);
    refusal('uninstall_while_installed', '');
    expect(await genuineEvent(portal)).toBe(200);
  });

  it('with the wrong token is refused', async () => {
    const forged = formFixture('app-uninstall')
      .replace('a223c6b3710f85df22e9377d6c4f7553', sb.portal.memberId)
      .replace('51856fefc120afa4b628cc82d3935cce', 'x'.repeat(32));
    expect((await post(forged)).status).toBe(401);
    expect(await genuineEvent(sb.portal)).toBe(200);
  });
});

describe('the default allow-list', () => {
  it("refuses a genuine install from a host outside Bitrix24's cloud when no list is given", async () => {
    await start({ allowDomains: undefined });
    // The sandbox's portal is 127.0.0.1:port: genuine in every other way (the same install is taken above).
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(401);
    expect(await gateway.store.getPortal(sb.portal.memberId)).toBeUndefined();
    refusal('domain_not_allowed', 'the domain is not on the allow-list');
    expect(await genuineEvent(sb.portal)).toBe(401);
  });
});

describe('without an OAuth client', () => {
  it('refuses every first install that no --app-token names', async () => {
    await start({ bitrix: {} });
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(401);
    refusal('no_credentials', 'nothing can prove it');
    expect(await gateway.store.getPortal(sb.portal.memberId)).toBeUndefined();
  });

  it('takes an install carrying the token --app-token gives, and only that one', async () => {
    await start({ bitrix: {}, appTokens: new Map([[sb.portal.memberId, sb.portal.applicationToken]]) });
    expect((await post(craftedInstall(sb.portal))).status).toBe(401);
    refusal('token_mismatch', 'does not carry the application token configured for it');
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(200);
  });

  it('with --trust-first-install takes a first install, but no re-install; refused with NODE_ENV=production', async () => {
    await start({ bitrix: {}, trustFirstInstall: true });
    expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(200);
    expect((await post(craftedInstall(sb.portal))).status).toBe(401);
    refusal('reinstall_while_installed', 'without an OAuth client a re-install cannot be proven');
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => new Gateway({ db: `${tmp.dir}/prod.db`, trustFirstInstall: true })).toThrow(/NODE_ENV=production/);
    } finally {
      process.env.NODE_ENV = env;
    }
  });
});

it('answers every failed verification with one code and message: nothing tells which portals exist', async () => {
  tmp = tmp ?? tempDir();
  await start();
  expect((await sb.install(sb.portal, events)).deliveries[0]?.status).toBe(200);
  const answers = [
    await post(eventWithToken(sb.portal, 'x'.repeat(32))), // known portal, wrong token
    await post(eventWithToken(sb.addPortal(), 'x'.repeat(32))), // unknown portal
    await post(craftedInstall(sb.portal)), // crafted re-install
    await post(craftedInstall(sb.addPortal({ domain: 'evil.example.com' }))), // off the allow-list
  ];
  for (const a of answers) expect(a).toEqual({ status: 401, body: answers[0]!.body });
  refusal('domain_not_allowed', 'is not on the allow-list');
  expect(answers[0]!.body.error?.code).toBe('B24GW_UNAUTHORIZED');
});
