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

  it('refuses a duplicate, an unknown event, a missing or bad handler', async () => {
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
  });
});

describe('offline events', () => {
  const send = (text: string) =>
    sb.sendEvent(sb.portal, 'ONIMCONNECTORMESSAGEADD', { CONNECTOR: 'c', LINE: '1', MESSAGES: [{ text }] });
  const names = (r: { body: { result: { events: { EVENT_DATA: { MESSAGES: { text: string }[] } }[] } } }) =>
    r.body.result.events.map((e) => e.EVENT_DATA.MESSAGES[0]!.text);

  it('event.bind offline needs no handler, once per event; its events wait in the queue, ONOFFLINEEVENT says so', async () => {
    expect((await call('event.bind', { event: 'ONIMCONNECTORMESSAGEADD', event_type: 'offline' })).body.result).toBe(
      true,
    );
    expect((await call('event.bind', { event: 'ONIMCONNECTORMESSAGEADD', event_type: 'offline' })).body.error).toBe(
      'ERROR_HANDLER_ALREADY_EXIST',
    );
    await call('event.bind', { event: 'ONOFFLINEEVENT', handler: `${cap.url}/wake` });
    expect((await call('event.get', {})).body.result).toEqual([
      { event: 'ONIMCONNECTORMESSAGEADD', handler: '', auth_type: '0', offline: 1 },
      { event: 'ONOFFLINEEVENT', handler: `${cap.url}/wake`, auth_type: '0', offline: 0 },
    ]);
    const r = await send('one');
    expect(r).toMatchObject({ ok: true, deliveries: [], offline: [1] });
    await send('two');
    // The news of records queued together goes once.
    const [wake] = await cap.waitFor(1);
    expect(decodeForm(wake!.text).params).toMatchObject({ event: 'ONOFFLINEEVENT' });
    await new Promise((r) => setTimeout(r, 50));
    expect(cap.requests).toHaveLength(1);
    const list = await call('event.offline.list', {});
    expect(list.body.total).toBe(2);
    expect(list.body.result[0]).toMatchObject({
      ID: '1',
      EVENT_NAME: 'ONIMCONNECTORMESSAGEADD',
      EVENT_DATA: { CONNECTOR: 'c', LINE: '1', MESSAGES: [{ text: 'one' }] },
      EVENT_ADDITIONAL: { user_id: 1 },
      PROCESS_ID: '',
      ERROR: '0',
    });
    expect(
      (await call('event.unbind', { event: 'ONIMCONNECTORMESSAGEADD', event_type: 'offline' })).body.result,
    ).toEqual({ count: 1 });
    expect((await send('three')).offline).toBeUndefined();
  });

  it('get with clear=0 reserves under a process_id, which re-selects them; clear removes them, error marks them', async () => {
    await call('event.bind', { event: 'ONIMCONNECTORMESSAGEADD', event_type: 'offline' });
    for (const t of ['a', 'b', 'c', 'd', 'e']) await send(t);
    const first = await call('event.offline.get', { clear: 0, limit: 2 });
    const pid = first.body.result.process_id as string;
    expect(pid).toMatch(/^[0-9a-f]{32}$/);
    expect(names(first)).toEqual(['a', 'b']);
    // Reserved records are hidden from other gets; the same process_id takes them again, then more.
    expect(names(await call('event.offline.get', { clear: 0, limit: 1 }))).toEqual(['c']);
    const again = await call('event.offline.get', { clear: 0, limit: 3, process_id: pid });
    expect(again.body.result.process_id).toBe(pid);
    expect(names(again)).toEqual(['a', 'b', 'd']);
    // A process_id of the caller's own reserves under it.
    const own = await call('event.offline.get', { clear: 0, limit: 5, process_id: 'mine' });
    expect([own.body.result.process_id, names(own)]).toEqual(['mine', ['e']]);
    const ids = again.body.result.events.map((e: { ID: string; MESSAGE_ID: string }) => e.ID);
    const bad = again.body.result.events[2].MESSAGE_ID as string;
    expect((await call('event.offline.error', { process_id: pid, message_id: [bad] })).body.result).toBe(true);
    expect((await call('event.offline.clear', { process_id: pid, id: ids.slice(0, 2) })).body.result).toBe(true);
    const list = await call('event.offline.list', { order: { ID: 'DESC' } });
    expect(list.body.result.map((r: { ID: string; ERROR: string }) => [r.ID, r.ERROR])).toEqual([
      ['5', '0'],
      ['4', '1'],
      ['3', '0'],
    ]);
    expect((await call('event.offline.list', { filter: { ERROR: 1 } })).body.total).toBe(1);
    expect((await call('event.offline.list', { filter: { '>=ID': 4 } })).body.total).toBe(2);
    // Failed records come only to a get that asks for them; clear=1 (the default) deletes what it takes.
    expect(names(await call('event.offline.get', { process_id: pid }))).toEqual([]);
    expect(names(await call('event.offline.get', { error: 1, process_id: pid }))).toEqual(['d']);
    expect(sb.portal.offline.size).toBe(2);
    expect(names(await call('event.offline.get', { filter: { '=EVENT_NAME': 'ONCRMLEADADD' } }))).toEqual([]);
  });

  it('a newer change of an object replaces its record not yet reserved; only administrators read the queue', async () => {
    await call('event.bind', { event: 'ONCRMDEALUPDATE', event_type: 'offline' });
    const a = sb.portal.offline.push(
      'ONCRMDEALUPDATE',
      { FIELDS: { ID: 5 } },
      false,
      '2024-07-18T12:32:31+02:00',
      '',
      'd5',
    );
    sb.portal.offline.push('ONCRMDEALUPDATE', { FIELDS: { ID: 5 } }, false, '2024-07-18T12:33:31+02:00', '', 'd5');
    expect(sb.portal.offline.records.map((r) => r.ID)).toEqual([a.ID + 1]);
    const user = sb.issueTokens(sb.portal, 7).access_token;
    const denied = await callRest(sb.restUrl, 'event.offline.get', { auth: user });
    expect([denied.status, denied.body.error]).toEqual([403, 'ACCESS_DENIED']);
    expect((await call('event.offline.clear', {})).body.error).toBe('ERROR_ARGUMENT');
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
