import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeForm } from '../php/decode.js';
import { startCapture, startSandbox, type Capture, type Sandbox } from '../index.js';
import { callRest, frozenAt } from '../testing.js';

let sb: Sandbox;
let cap: Capture;
let auth: string;
const call = (method: string, params: Record<string, unknown>) => callRest(sb.restUrl, method, { auth, ...params });

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt() });
  cap = await startCapture();
  auth = sb.issueTokens(sb.portal).access_token;
});
afterEach(async () => {
  await cap.close();
  await sb.stop();
});

describe('event.bind / event.get / event.unbind', () => {
  it('binds, lists and unbinds handlers, event names case-insensitive', async () => {
    expect((await call('event.bind', { event: 'onImConnectorMessageAdd', handler: `${cap.url}/a` })).body.result).toBe(
      true,
    );
    expect((await call('event.bind', { EVENT: 'ONAPPTEST', HANDLER: `${cap.url}/b`, AUTH_TYPE: 7 })).body.result).toBe(
      true,
    );
    expect((await call('event.get', {})).body.result).toEqual([
      { event: 'ONIMCONNECTORMESSAGEADD', handler: `${cap.url}/a`, auth_type: '0', offline: 0 },
      { event: 'ONAPPTEST', handler: `${cap.url}/b`, auth_type: '7', offline: 0 },
    ]);
    expect((await call('event.unbind', { event: 'ONAPPTEST', handler: `${cap.url}/b` })).body.result).toEqual({
      count: 1,
    });
    expect((await call('event.unbind', { event: 'ONAPPTEST', handler: `${cap.url}/b` })).body.result).toEqual({
      count: 0,
    });
    expect((await call('event.get', {})).body.result).toHaveLength(1);
  });

  it('refuses a duplicate, an unknown event, a missing or bad handler, and offline binding', async () => {
    await call('event.bind', { event: 'ONAPPTEST', handler: `${cap.url}/a` });
    const dup = await call('event.bind', { event: 'ONAPPTEST', handler: `${cap.url}/a` });
    expect(dup.status).toBe(400);
    expect(dup.body).toEqual({ error: 'ERROR_HANDLER_ALREADY_EXIST', error_description: 'Handler already exists!' });
    expect((await call('event.bind', { event: 'ONNOTHING', handler: `${cap.url}/a` })).body).toEqual({
      error: 'ERROR_EVENT_NOT_FOUND',
      error_description: 'Event not found',
    });
    expect((await call('event.bind', { event: 'ONAPPTEST' })).body.error_description).toBe(
      "Argument 'HANDLER' is null or empty",
    );
    expect((await call('event.bind', { handler: `${cap.url}/a` })).body.error_description).toBe(
      "Argument 'EVENT' is null or empty",
    );
    expect((await call('event.bind', { event: 'ONAPPTEST', handler: 'not a url' })).status).toBe(400);
    expect(
      (await call('event.bind', { event: 'ONAPPTEST', handler: `${cap.url}/z`, event_type: 'offline' })).status,
    ).toBe(400);
  });
});

describe('event.test', () => {
  it('answers 1 and sends ONAPPTEST with the call parameters in data.QUERY', async () => {
    await call('event.bind', { event: 'ONAPPTEST', handler: `${cap.url}/test` });
    const r = await call('event.test', { any: 'data' });
    expect(r.body.result).toBe(1);
    const [req] = await cap.waitFor(1);
    const body = decodeForm(req!.text).params;
    expect(body).toMatchObject({
      event: 'ONAPPTEST',
      event_handler_id: '1',
      data: { QUERY: { any: 'data' }, LANGUAGE_ID: 'en' },
    });
    expect(Object.keys(body)).toEqual(['event', 'event_handler_id', 'data', 'ts', 'auth']);
  });
});

describe('imbot.register', () => {
  const props = { NAME: 'Echo' };

  it('validates CODE, handlers and PROPERTIES', async () => {
    const err = async (params: Record<string, unknown>) => (await call('imbot.register', params)).body.error;
    expect(await err({ EVENT_HANDLER: `${cap.url}/b`, PROPERTIES: props })).toBe('CODE_ERROR');
    expect(await err({ CODE: 'echo', PROPERTIES: props })).toBe('EVENT_MESSAGE_ADD_ERROR');
    expect(await err({ CODE: 'echo', EVENT_MESSAGE_ADD: `${cap.url}/b`, PROPERTIES: props })).toBe(
      'EVENT_WELCOME_MESSAGE_ERROR',
    );
    expect(await err({ CODE: 'echo', EVENT_HANDLER: `${cap.url}/b`, PROPERTIES: {} })).toBe('NAME_ERROR');
    expect(await err({ CODE: 'echo', EVENT_HANDLER: `${cap.url}/b` })).toBe('NAME_ERROR');
  });

  it('returns the bot id, binds its handlers (no update/delete for TYPE=B) and is idempotent per CODE', async () => {
    const r = await call('imbot.register', { CODE: 'echo', EVENT_HANDLER: `${cap.url}/b`, PROPERTIES: props });
    expect(r.status).toBe(200);
    const id = r.body.result as number;
    expect(Number.isInteger(id)).toBe(true);
    expect(sb.portal.handlers.filter((h) => h.botId === id).map((h) => h.event)).toEqual([
      'ONIMBOTMESSAGEADD',
      'ONIMBOTJOINCHAT',
      'ONIMBOTDELETE',
    ]);
    expect(
      (await call('imbot.register', { CODE: 'echo', EVENT_HANDLER: `${cap.url}/b`, PROPERTIES: props })).body.result,
    ).toBe(id);
    const sup = await call('imbot.register', {
      CODE: 'sup',
      TYPE: 'S',
      EVENT_HANDLER: `${cap.url}/s`,
      PROPERTIES: props,
    });
    expect(sb.portal.handlers.filter((h) => h.botId === sup.body.result).map((h) => h.event)).toContain(
      'ONIMBOTMESSAGEUPDATE',
    );
  });
});
