import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeForm } from './php/decode.js';
import { startCapture, startSandbox, type Capture, type Sandbox } from './index.js';
import { callRest, control, frozenAt } from './testing.js';

let sb: Sandbox;
let cap: Capture;

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt(), clientId: 'cid', clientSecret: 'csecret' });
  cap = await startCapture();
});
afterEach(async () => {
  await cap.close();
  await sb.stop();
});

describe('control API over HTTP', () => {
  it('GET /sandbox describes endpoints, credentials, portals, switches and scenarios', async () => {
    const { status, body } = await control(sb.url, '/sandbox');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      url: sb.url,
      oauthUrl: `${sb.url}/oauth/token/`,
      restUrl: `${sb.url}/rest/`,
      clientId: 'cid',
      clientSecret: 'csecret',
      portals: [{ memberId: sb.portal.memberId, applicationToken: sb.portal.applicationToken, installed: false }],
      scenarios: ['conversation', 'bot', 'chatbot', 'portals', 'load'],
    });
  });

  it('adds portals, issues tokens, installs, and sends raw events', async () => {
    const added = await control(sb.url, '/sandbox/portals', { memberId: 'm2', applicationToken: 'app2' });
    expect(added.body).toMatchObject({ memberId: 'm2', applicationToken: 'app2' });
    expect((await control(sb.url, '/sandbox/portals')).body).toHaveLength(2);

    const tokens = await control(sb.url, '/sandbox/tokens', { portal: 'm2' });
    expect(tokens.body).toMatchObject({ member_id: 'm2', expires_in: 3600 });
    expect((await callRest(sb.restUrl, 'app.info', { auth: tokens.body.access_token })).status).toBe(200);

    const installed = await control(sb.url, '/sandbox/install', { portal: 1, handler: `${cap.url}/install` });
    expect(installed.body.ok).toBe(true);
    expect(installed.body.tokens.access_token).toMatch(/^[0-9a-f]{32}$/);

    const sent = await control(sb.url, '/sandbox/events', {
      portal: 'm2',
      code: 'ONIMCONNECTORLINEDELETE',
      data: 107,
      handler: `${cap.url}/ev`,
      withTokens: false,
    });
    expect(sent.body).toMatchObject({ code: 'ONIMCONNECTORLINEDELETE', ok: true });
    const [, ev] = await cap.waitFor(2);
    expect(decodeForm(ev!.text).params).toMatchObject({
      event: 'ONIMCONNECTORLINEDELETE',
      data: '107',
      auth: { member_id: 'm2', application_token: 'app2' },
    });
  });

  it('gives a portal another application_token, which its events then carry', async () => {
    const before = sb.portal.applicationToken;
    const given = await control(sb.url, '/sandbox/portals/application-token', { applicationToken: 'tok-2' });
    expect(given.body).toMatchObject({ memberId: sb.portal.memberId, applicationToken: 'tok-2' });
    await control(sb.url, '/sandbox/events', { code: 'ONAPPTEST', data: {}, handler: `${cap.url}/ev` });
    const [ev] = await cap.waitFor(1);
    expect(decodeForm(ev!.text).params).toMatchObject({ auth: { application_token: 'tok-2' } });
    const fresh = await control(sb.url, '/sandbox/portals/application-token', {});
    expect(fresh.body.applicationToken).toMatch(/^[0-9a-f]{32}$/);
    expect([before, 'tok-2']).not.toContain(fresh.body.applicationToken);
  });

  it('acts as operator and lists deliveries, calls and statuses with filters', async () => {
    const write = await control(sb.url, '/sandbox/act/operator-writes', {
      connector: 'myconnector',
      line: 3,
      externalChatId: 'chan',
      text: 'Hi',
      handler: `${cap.url}/op`,
    });
    expect(write.body).toMatchObject({
      chatId: expect.any(Number),
      messageId: expect.any(Number),
      delivery: { ok: true },
    });
    const auth = sb.issueTokens(sb.portal).access_token;
    await callRest(sb.restUrl, 'imconnector.send.status.delivery', {
      auth,
      CONNECTOR: 'myconnector',
      LINE: 3,
      MESSAGES: [
        {
          im: { chat_id: write.body.chatId, message_id: write.body.messageId },
          message: { id: ['x1'] },
          chat: { id: 'chan' },
        },
      ],
    });
    expect(
      (await control(sb.url, `/sandbox/statuses?kind=delivery&messageId=${write.body.messageId}`)).body,
    ).toMatchObject([{ externalIds: ['x1'], known: true }]);
    expect((await control(sb.url, '/sandbox/statuses?kind=reading')).body).toEqual([]);
    expect((await control(sb.url, '/sandbox/calls?method=imconnector.send.status.delivery')).body).toHaveLength(1);
    expect((await control(sb.url, '/sandbox/deliveries?code=onimconnectormessageadd&portal=0')).body).toHaveLength(1);
    const edit = await control(sb.url, '/sandbox/act/operator-edits', {
      messageId: write.body.messageId,
      text: 'Hi!',
      handler: `${cap.url}/op`,
    });
    expect(edit.body.ok).toBe(true);
    const [, upd] = await cap.waitFor(2);
    expect(decodeForm(upd!.text).params).toMatchObject({
      data: { MESSAGES: [{ message: { id: ['x1'], text: 'Hi!' } }] },
    });
    expect((await control(sb.url, '/sandbox/state')).body.messages).toHaveLength(1);
    expect((await control(sb.url, '/sandbox/recorder', undefined, 'DELETE')).body).toEqual({ cleared: true });
    expect((await control(sb.url, '/sandbox/deliveries')).body).toEqual([]);
  });

  it('runs scenarios and bot events', async () => {
    const bot = await control(sb.url, '/sandbox/act/bot', {
      kind: 'add',
      bots: [{ id: 571, code: 'BOT' }],
      chatType: 'P',
      chatId: 1453,
      messageId: 84531,
      text: 'Hello',
      handler: `${cap.url}/b`,
    });
    expect(bot.body.ok).toBe(true);
    const run = await control(sb.url, '/sandbox/scenario', {
      name: 'conversation',
      handler: `${cap.url}/c`,
      messages: 1,
      statusWaitMs: 0,
    });
    expect(run.body).toMatchObject({ name: 'conversation', ok: true });
    expect(run.body.steps).toHaveLength(5);
  });

  it('moves the clock', async () => {
    const auth = sb.issueTokens(sb.portal).access_token;
    const moved = await control(sb.url, '/sandbox/clock', { advanceMs: 3600_000 });
    expect(moved.body.now).toBe(frozenAt()() + 3600_000);
    expect((await callRest(sb.restUrl, 'app.info', { auth })).body.error).toBe('expired_token');
  });

  it('answers 404 for unknown routes and 400 for bad bodies', async () => {
    expect((await control(sb.url, '/sandbox/nope')).status).toBe(404);
    expect((await control(sb.url, '/elsewhere')).status).toBe(404);
    expect((await control(sb.url, '/sandbox/install', { handler: 'not-a-url' })).status).toBe(400);
    expect((await control(sb.url, '/sandbox/scenario', { name: 'nope' })).status).toBe(400);
    const res = await fetch(`${sb.url}/sandbox/faults`, {
      method: 'POST',
      body: '{',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect((await control(sb.url, '/sandbox/tokens', { portal: 'no-such' })).status).toBe(404);
    expect((await control(sb.url, '/sandbox/scenario', { name: 'portals' })).status).toBe(400);
    expect((await control(sb.url, '/sandbox/portals', { memberId: sb.portal.memberId })).status).toBe(409);
  });
});
