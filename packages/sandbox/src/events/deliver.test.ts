import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeForm } from '../php/decode.js';
import { payloads, startCapture, startSandbox, type Capture, type Sandbox } from '../index.js';
import { callRest, frozenAt } from '../testing.js';

const eventsDir = fileURLToPath(new URL('../../../../fixtures/events', import.meta.url));
const fixtures = readdirSync(eventsDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length));

let sb: Sandbox;
let cap: Capture;

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt(1_773_759_161_000), deliveryTimeoutMs: 500 });
  cap = await startCapture();
});
afterEach(async () => {
  await cap.close();
  await sb.stop();
});

/** The portal's keys of an auth block, in Bitrix24's order; with tokens, the token's keys come first. */
const PORTAL_KEYS = ['scope', 'domain', 'server_endpoint', 'status', 'client_endpoint', 'member_id'];
const AUTH_KEYS = ['access_token', 'expires', 'expires_in', ...PORTAL_KEYS];
const USER_AUTH_KEYS = [...AUTH_KEYS, 'user_id', 'application_token'];

describe('what a handler receives', () => {
  it('for every PHP fixture payload, a form POST byte-identical to PHP http_build_query', async () => {
    expect(fixtures.length).toBeGreaterThan(20);
    for (const name of fixtures) {
      const payload = JSON.parse(readFileSync(join(eventsDir, `${name}.json`), 'utf8')) as Record<string, unknown>;
      const record = await sb.deliverPayload(sb.portal, `${cap.url}/${name}`, payload);
      expect(record.ok, name).toBe(true);
    }
    const got = await cap.waitFor(fixtures.length);
    for (const [i, name] of fixtures.entries()) {
      const req = got[i]!;
      expect(req.url).toBe(`/${name}`);
      expect(req.method).toBe('POST');
      expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(req.body.equals(readFileSync(join(eventsDir, `${name}.form`))), name).toBe(true);
    }
  });

  it('an envelope of event, event_handler_id, data, ts, auth with fresh usable tokens', async () => {
    sb.portal.bind('ONIMCONNECTORMESSAGEADD', `${cap.url}/h`);
    const data = payloads.imconnectorMessageAdd({
      connector: 'myconnector',
      line: 107,
      messages: [
        {
          chatId: 1807,
          messageId: 86497,
          externalChatId: 'channel-123',
          userId: 27,
          text: '[b]Klaus Weber:[/b] [br]Guten Tag!',
        },
      ],
    });
    const result = await sb.sendEvent(sb.portal, 'ONIMCONNECTORMESSAGEADD', data, { userId: 27 });
    expect(result.ok).toBe(true);
    const [req] = await cap.waitFor(1);
    const body = decodeForm(req!.text).params as Record<string, Record<string, unknown>>;
    expect(Object.keys(body)).toEqual(['event', 'event_handler_id', 'data', 'ts', 'auth']);
    expect(body).toMatchObject({ event: 'ONIMCONNECTORMESSAGEADD', event_handler_id: '1', ts: '1773759161' });
    expect(Object.keys(body.auth!)).toEqual(USER_AUTH_KEYS);
    expect(body.auth).toMatchObject({
      expires: String(1_773_759_161 + 3600),
      expires_in: '3600',
      scope: 'imconnector, imopenlines',
      domain: sb.portal.domain,
      server_endpoint: `${sb.url}/rest/`,
      client_endpoint: `${sb.url}/rest/`,
      member_id: sb.portal.memberId,
      user_id: '27',
      application_token: sb.portal.applicationToken,
    });
    // The body is exactly http_build_query of the recorded payload, and the payload's data is what was passed.
    expect(req!.text).toBe(result.deliveries[0]!.body);
    expect(result.deliveries[0]!.payload.data).toEqual(data);
    expect((await callRest(sb.restUrl, 'app.info', { auth: body.auth!.access_token })).status).toBe(200);
  });

  it('withTokens:false (robot-caused) leaves the tokens out, as the no-oauth fixture shows', async () => {
    await sb.sendEvent(
      sb.portal,
      'ONIMCONNECTORMESSAGEADD',
      { CONNECTOR: 'c', LINE: 1 },
      { handlerUrl: `${cap.url}/r`, withTokens: false },
    );
    const [req] = await cap.waitFor(1);
    const auth = (decodeForm(req!.text).params as Record<string, Record<string, unknown>>).auth!;
    expect(Object.keys(auth)).toEqual([...PORTAL_KEYS, 'application_token']);
  });

  it('ONIMCONNECTORLINEDELETE carries data as a bare number; eventId can replace event_handler_id', async () => {
    await sb.sendEvent(sb.portal, 'ONIMCONNECTORLINEDELETE', payloads.imconnectorLineDelete(107), {
      handlerUrl: `${cap.url}/l`,
    });
    await sb.sendEvent(
      sb.portal,
      'ONIMCONNECTORDIALOGSTART',
      payloads.imconnectorDialogStart({ connector: 'c', line: 105, chatId: 8, sessionId: 3282 }),
      {
        handlerUrl: `${cap.url}/d`,
        handlerIdKey: 'eventId',
      },
    );
    const [line, dialog] = await cap.waitFor(2);
    expect(line!.text).toMatch(
      /^event=ONIMCONNECTORLINEDELETE&event_handler_id=\d+&data=107&ts=1773759161&auth%5Baccess_token%5D=/,
    );
    const d = decodeForm(dialog!.text).params;
    expect(Object.keys(d)).toEqual(['event', 'eventId', 'data', 'ts', 'auth']);
    expect(d.data).toMatchObject({ CONNECTOR: 'c', LINE: '105', DATA: [{ session: { id: '3282', closed: 'N' } }] });
  });

  it('ONIMBOT* events go to the addressed bots’ handlers, with per-bot tokens and an AUTH copy', async () => {
    sb.portal.bind('ONIMBOTMESSAGEADD', `${cap.url}/bot567`, 0, 567);
    sb.portal.bind('ONIMBOTMESSAGEADD', `${cap.url}/bot999`, 0, 999);
    const r = await sb.act.bot(sb.portal, 'add', {
      bots: [{ id: 567, code: 'BOT1', name: 'NewBot' }],
      chatType: 'C',
      chatId: 1157,
      messageId: 84351,
      text: ', hi',
    });
    expect(r.deliveries.map((d) => d.url)).toEqual([`${cap.url}/bot567`]);
    const [req] = await cap.waitFor(1);
    const body = decodeForm(req!.text).params as Record<
      string,
      Record<string, Record<string, Record<string, unknown>>>
    >;
    const bot = body.data!.BOT!['567']!;
    expect(Object.keys(bot)).toEqual([
      ...AUTH_KEYS,
      'refresh_token',
      'user_id',
      'client_id',
      'application_token',
      'AUTH',
      'BOT_ID',
      'BOT_CODE',
    ]);
    expect(bot).toMatchObject({ user_id: '567', client_id: sb.clientId, BOT_ID: '567', BOT_CODE: 'BOT1' });
    expect(bot.AUTH).toMatchObject({ access_token: bot.access_token, refresh_token: bot.refresh_token });
    expect(body.data!.PARAMS).toMatchObject({
      MENTIONED_LIST: { 567: '567' },
      MESSAGE_ORIGINAL: '[USER=567]NewBot[/USER] , hi',
      DIALOG_ID: 'chat1157',
    });
    expect(Object.keys(body.auth!)).toEqual([...USER_AUTH_KEYS.slice(0, -1), 'refresh_token', 'application_token']);
    expect((await callRest(sb.restUrl, 'app.info', { auth: bot.access_token })).status).toBe(200);
  });
});

describe('install and uninstall', () => {
  it('install binds ONAPPINSTALL and sends the documented shape: no handler id, install auth with both tokens', async () => {
    const result = await sb.install(sb.portal, `${cap.url}/install`);
    expect(result.ok).toBe(true);
    const [req] = await cap.waitFor(1);
    const body = decodeForm(req!.text).params as Record<string, Record<string, unknown>>;
    expect(Object.keys(body)).toEqual(['event', 'data', 'ts', 'auth']);
    expect(body.data).toEqual({ VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' });
    expect(Object.keys(body.auth!)).toEqual([
      'domain',
      'scope',
      'access_token',
      'refresh_token',
      'expires_in',
      'server_endpoint',
      'status',
      'client_endpoint',
      'member_id',
      'application_token',
    ]);
    expect(body.auth!.access_token).toBe(result.tokens.access_token);
    const info = await callRest(sb.restUrl, 'app.info', { auth: result.tokens.access_token });
    expect(info.body.result.INSTALLED).toBe(true);
    expect((await callRest(sb.restUrl, 'event.get', { auth: result.tokens.access_token })).body.result[0].event).toBe(
      'ONAPPINSTALL',
    );
  });

  it('uninstall sends ONAPPUNINSTALL without tokens to the bound handlers', async () => {
    sb.portal.bind('ONAPPUNINSTALL', `${cap.url}/bye`);
    await sb.uninstall(sb.portal, { clean: true });
    const [req] = await cap.waitFor(1);
    const body = decodeForm(req!.text).params as Record<string, Record<string, unknown>>;
    expect(Object.keys(body)).toEqual(['event', 'data', 'ts', 'auth']);
    expect(body.data).toEqual({ LANGUAGE_ID: 'en', CLEAN: '1' });
    expect(Object.keys(body.auth!)).toEqual([
      'domain',
      'server_endpoint',
      'client_endpoint',
      'member_id',
      'application_token',
    ]);
    expect(sb.portal.handlers).toEqual([]);
    expect(sb.portal.installed).toBe(false);
  });
});

describe('no re-send, outcome recorded', () => {
  it('a 500 answer is logged once and never retried', async () => {
    cap.reply({ status: 500, body: 'boom' });
    const r = await sb.sendEvent(sb.portal, 'ONAPPTEST', { QUERY: {} }, { handlerUrl: `${cap.url}/fail` });
    expect(r.ok).toBe(false);
    expect(r.deliveries[0]).toMatchObject({
      status: 500,
      ok: false,
      responseBody: 'boom',
      code: 'ONAPPTEST',
      url: `${cap.url}/fail`,
    });
    await sleep(300);
    expect(cap.requests).toHaveLength(1);
    expect(sb.recorder.deliveries()).toHaveLength(1);
  });

  it('a refused connection and a timeout are logged with status 0 and an error', async () => {
    const closed = await freePort();
    const refused = await sb.sendEvent(sb.portal, 'ONAPPTEST', {}, { handlerUrl: `http://127.0.0.1:${closed}/x` });
    expect(refused.deliveries[0]).toMatchObject({ status: 0, ok: false, error: expect.stringMatching(/ECONNREFUSED/) });
    cap.reply({ delayMs: 2000 });
    const slow = await sb.sendEvent(sb.portal, 'ONAPPTEST', {}, { handlerUrl: `${cap.url}/slow` });
    expect(slow.deliveries[0]).toMatchObject({ status: 0, ok: false, error: 'No answer within 500 ms' });
    expect(cap.requests).toHaveLength(1);
    const bad = await sb.sendEvent(sb.portal, 'ONAPPTEST', {}, { handlerUrl: 'not a url' });
    expect(bad.deliveries[0]).toMatchObject({ status: 0, error: 'Invalid handler URL: not a url' });
    expect(sb.recorder.deliveries().map((d) => d.status)).toEqual([0, 0, 0]);
  });

  it('sends nothing when no handler is bound, as Bitrix24 does', async () => {
    const r = await sb.sendEvent(sb.portal, 'ONIMCONNECTORMESSAGEADD', {});
    expect(r).toEqual({ code: 'ONIMCONNECTORMESSAGEADD', ok: false, deliveries: [] });
  });

  it('each bound handler gets exactly one POST', async () => {
    sb.portal.bind('ONAPPTEST', `${cap.url}/1`);
    sb.portal.bind('ONAPPTEST', `${cap.url}/2`);
    const r = await sb.sendEvent(sb.portal, 'onapptest', {});
    expect(r.ok).toBe(true);
    expect(r.deliveries.map((d) => d.handlerId)).toEqual([1, 2]);
    expect(cap.requests.map((q) => q.url).sort()).toEqual(['/1', '/2']);
  });
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
