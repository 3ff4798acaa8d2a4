import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeForm } from '../php/decode.js';
import { startCapture, startSandbox, type Capture, type CapturedRequest, type Sandbox } from '../index.js';
import { callRest } from '../testing.js';

let sb: Sandbox;
let app: Capture;
/** The app's own REST calls still in flight; awaited before the sandbox stops. */
const inFlight: Promise<unknown>[] = [];
const track = (p: Promise<unknown>): void => void inFlight.push(p.catch(() => undefined));

type Form = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const form = (r: CapturedRequest): Form => decodeForm(r.text).params;

/**
 * A minimal connector application: binds its handlers on install, and answers every
 * operator message with imconnector.send.status.delivery using the event's own token.
 */
function connectorApp(restUrl: string): (req: CapturedRequest) => { status: number } {
  return (req) => {
    const ev = form(req);
    const auth = ev.auth?.access_token as string | undefined;
    if (ev.event === 'ONAPPINSTALL' && auth) {
      track(
        (async () => {
          await callRest(restUrl, 'imconnector.register', {
            auth,
            ID: 'myconnector',
            NAME: 'Mine',
            ICON: { DATA_IMAGE: 'data:image/svg+xml,x' },
            PLACEMENT_HANDLER: 'https://app.example/p',
          });
          await callRest(restUrl, 'imconnector.activate', { auth, CONNECTOR: 'myconnector', LINE: 1, ACTIVE: 1 });
          for (const event of ['ONIMCONNECTORMESSAGEADD', 'ONIMCONNECTORMESSAGEUPDATE', 'ONIMCONNECTORMESSAGEDELETE']) {
            await callRest(restUrl, 'event.bind', { auth, event, handler: `${app.url}/events` });
          }
        })(),
      );
    }
    if (ev.event === 'ONIMCONNECTORMESSAGEADD' && auth) {
      const m = ev.data.MESSAGES[0];
      track(
        callRest(restUrl, 'imconnector.send.status.delivery', {
          auth,
          CONNECTOR: ev.data.CONNECTOR,
          LINE: ev.data.LINE,
          MESSAGES: [{ im: m.im, message: { id: [`ext-${m.im.message_id}`] }, chat: { id: m.chat.id } }],
        }),
      );
    }
    return { status: 200 };
  };
}

beforeEach(async () => {
  sb = await startSandbox();
  app = await startCapture();
  app.reply(connectorApp(sb.restUrl));
});
afterEach(async () => {
  await Promise.all(inFlight.splice(0));
  await app.close();
  await sb.stop();
});

describe('conversation', () => {
  it('dialog start, operator messages, an edit carrying the reported external ids, a deletion, dialog finish', async () => {
    const result = await sb.scenario('conversation', {
      handlerUrl: `${app.url}/events`,
      messages: 2,
      connector: 'myconnector',
      externalChatId: 'chan-1',
    });
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => s.step)).toEqual([
      'dialog start',
      'operator writes 1',
      'operator writes 2',
      'operator edits',
      'operator deletes',
      'dialog finish',
    ]);
    const events = app.requests.map(form);
    expect(events.map((e) => e.event)).toEqual([
      'ONIMCONNECTORDIALOGSTART',
      'ONIMCONNECTORMESSAGEADD',
      'ONIMCONNECTORMESSAGEADD',
      'ONIMCONNECTORMESSAGEUPDATE',
      'ONIMCONNECTORMESSAGEDELETE',
      'ONIMCONNECTORDIALOGFINISH',
    ]);
    const [, add1, add2, update, del] = events;
    expect(update!.data.MESSAGES[0].message.id).toEqual([`ext-${add1!.data.MESSAGES[0].im.message_id}`]);
    expect(update!.data.MESSAGES[0].message.text).toBe('Operator message 1 (edited)');
    expect(del!.data.MESSAGES[0].message.id).toBe(`ext-${add2!.data.MESSAGES[0].im.message_id}`);
    expect(sb.recorder.statuses().map((s) => s.known)).toEqual([true, true]);
  });

  it('marks steps with no bound handler as skipped', async () => {
    const result = await sb.scenario('conversation', { statusWaitMs: 0, messages: 1 });
    expect(result.ok).toBe(true);
    expect(result.steps.every((s) => s.skipped)).toBe(true);
    expect(app.requests).toHaveLength(0);
  });
});

describe('bot', () => {
  it('personal message, group mention, edit and deletion go to the bot’s handler', async () => {
    const result = await sb.scenario('bot', { handlerUrl: `${app.url}/bot` });
    expect(result.ok).toBe(true);
    const events = app.requests.map(form);
    expect(events.map((e) => [e.event, e.data.PARAMS.CHAT_TYPE ?? e.data.PARAMS.MESSAGE_TYPE])).toEqual([
      ['ONIMBOTMESSAGEADD', 'P'],
      ['ONIMBOTMESSAGEADD', 'C'],
      ['ONIMBOTMESSAGEUPDATE', 'C'],
      ['ONIMBOTMESSAGEDELETE', 'P'],
    ]);
    expect(Object.keys(events[1]!.data.BOT)).toEqual(Object.keys(events[1]!.data.PARAMS.MENTIONED_LIST));
  });

  it('uses the bot an application registered; TYPE=B bots get no update/delete, which is reported as skipped', async () => {
    const auth = sb.issueTokens(sb.portal).access_token;
    await callRest(sb.restUrl, 'imbot.register', {
      auth,
      CODE: 'b',
      EVENT_HANDLER: `${app.url}/registered`,
      PROPERTIES: { NAME: 'B' },
    });
    const result = await sb.scenario('bot');
    expect(result.steps.map((s) => [s.step, Boolean(s.skipped)])).toEqual([
      ['personal message', false],
      ['mentioned in group', false],
      ['mention edited', true],
      ['personal message deleted', true],
    ]);
    expect(app.requests.every((r) => r.url === '/registered')).toBe(true);
  });
});

describe('portals', () => {
  it('installs on several new portals; each application binds and receives its own portal’s events', async () => {
    const result = await sb.scenario('portals', { handlerUrl: `${app.url}/install`, count: 3, messages: 1 });
    expect(result.ok).toBe(true);
    expect(result.portals).toHaveLength(3);
    const adds = app.requests.map(form).filter((e) => e.event === 'ONIMCONNECTORMESSAGEADD');
    expect(adds.map((e) => e.auth.member_id).sort()).toEqual([...result.portals].sort());
    expect(new Set(adds.map((e) => e.auth.application_token)).size).toBe(3);
  });
});

describe('load', () => {
  it('sends N events per second for T seconds and reports the outcome', async () => {
    const result = await sb.scenario('load', {
      handlerUrl: `${app.url}/load`,
      rate: 40,
      seconds: 0.5,
      connector: 'myconnector',
    });
    expect(result.ok).toBe(true);
    expect(result.load).toMatchObject({ sent: 20, ok: 20, failed: 0, statuses: { 200: 20 } });
    expect(result.load!.durationMs).toBeGreaterThanOrEqual(450);
    expect(result.load!.latencyMs.max).toBeGreaterThanOrEqual(result.load!.latencyMs.p50);
    expect(sb.recorder.deliveries({ code: 'ONIMCONNECTORMESSAGEADD' })).toHaveLength(20);
  });
});
