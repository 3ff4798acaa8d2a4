import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture, jsonFixture } from '../../test/fixtures.js';
import { tempDir } from '../../test/helpers.js';
import { parseEvent } from '../events/registry.js';
import { decodeBody } from '../wire/decode.js';
import { ConnectorState, type EventMeta } from './state.js';

const M = 'bac1cd5c8940947a75e0d71b1a84e348';
const T0 = 1_773_760_000_000;
const MIN = 60_000;

type Items = Record<string, unknown>[];
const connectorEvent = (event: string, items: Items, key: 'MESSAGES' | 'DATA' = 'MESSAGES', line = 107) => ({
  event,
  data: { CONNECTOR: 'myconnector', LINE: line, [key]: items },
  ts: 1773760030,
  auth: { member_id: M },
});
const im = (message_id: number, chat_id = 1807) => ({ chat_id, message_id });
const add = (imId: number, text: string, chat = 'channel-123') => ({ im: im(imId), message: { user_id: 27, text }, chat: { id: chat } });
const upd = (imId: number, ids: string[], text?: string, chat = 'channel-123') => ({ im: im(imId), message: { id: ids, text }, chat: { id: chat } });
const del = (imId: number, id: string, chat = 'channel-123') => ({ im: im(imId), message: { id }, chat: { id: chat } });
const dialog = (session: { id: number; closed?: string; parent_id?: number; close_term?: number }, chat = 'channel-123', line = 107) => ({
  connector: { connector_id: 'myconnector', line_id: line, chat_id: chat, user_id: 'u-1' },
  session,
  chat: { id: chat },
  user: { id: 'u-1' },
});

let dir: string;
let cleanup: () => void;
let db: Database.Database;
let state: ConnectorState;
let nextId = 1;
const meta = (at: number, eventId = nextId++): EventMeta => ({ eventId, memberId: M, receivedAt: at });

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  db = new Database(join(dir, 'gateway.db'));
  db.pragma('journal_mode = WAL');
  state = new ConnectorState(db);
  nextId = 1;
});
afterEach(() => {
  db.close();
  cleanup();
});

describe('messages', () => {
  const seed = () => {
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(86501, 'Hello')]), meta(T0));
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['ext-msg-005'], 'Hello!')]), meta(T0 + 1000));
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['ext-msg-005'], 'What questions do you have?')]), meta(T0 + 2000));
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEDELETE', [del(86501, 'ext-msg-005')]), meta(T0 + 3000));
  };

  it('add, update, update, delete: current text, two edits, a readable tombstone', () => {
    seed();
    expect(state.message(M, { imMessageId: 86501 })).toEqual({
      line: 107,
      connector: 'myconnector',
      imChatId: 1807,
      imMessageId: 86501,
      externalChatId: 'channel-123',
      externalIds: ['ext-msg-005'],
      userId: 27,
      text: 'What questions do you have?',
      originalText: 'Hello',
      history: [
        { text: 'Hello!', at: T0 + 1000, eventId: 2 },
        { text: 'What questions do you have?', at: T0 + 2000, eventId: 3 },
      ],
      deleted: true,
      deletedAt: T0 + 3000,
      createdAt: T0,
      updatedAt: T0 + 3000,
    });
  });

  it('is idempotent: re-applying the same event ids changes nothing', () => {
    seed();
    const before = state.messages(M);
    const again = connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['ext-msg-005'], 'Hello!')]);
    expect(state.apply(again, meta(T0 + 9000, 2))).toBe(false);
    // Same id, other content: still the retry of event 3, so ignored.
    expect(state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['x'], 'other')]), meta(T0 + 9000, 3))).toBe(false);
    expect(state.applied(3)).toBe(true);
    expect(state.messages(M)).toEqual(before);
    expect(db.prepare('SELECT COUNT(*) FROM state_applied').pluck().get()).toBe(4);
  });

  it('finds a message by Bitrix24 id or external id, within the portal and line', () => {
    seed();
    expect(state.message(M, { externalId: 'ext-msg-005' })?.imMessageId).toBe(86501);
    expect(state.message(M, { line: 107, imMessageId: 86501, externalId: 'ext-msg-005' })?.text).toBe('What questions do you have?');
    expect(state.message(M, { line: 108, imMessageId: 86501 })).toBeUndefined();
    expect(state.message(M, { imMessageId: 1 })).toBeUndefined();
    expect(state.message(M, { externalId: 'nope' })).toBeUndefined();
    expect(state.message('other-portal', { imMessageId: 86501 })).toBeUndefined();
    expect(() => state.message(M, { line: 107 })).toThrow(/imMessageId or externalId/);
  });

  it('maps the Bitrix24 chat to the external chat both ways', () => {
    seed();
    expect(state.chat(M, 107, 'channel-123')).toMatchObject({ imChatId: 1807, connector: 'myconnector', firstSeenAt: T0, lastSeenAt: T0 + 3000 });
    expect(state.chatByImId(M, 1807)?.externalChatId).toBe('channel-123');
    expect(state.chat(M, 107, 'channel-999')).toBeUndefined();
  });

  it('an update for a message never seen creates it; an update without text only maps ids', () => {
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(7, ['e-7'], 'late')]), meta(T0));
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(7, ['e-7b'])]), meta(T0 + 1));
    expect(state.message(M, { externalId: 'e-7b' })).toMatchObject({
      text: 'late',
      originalText: null,
      externalIds: ['e-7', 'e-7b'],
      history: [{ text: 'late', at: T0, eventId: 1 }],
      deleted: false,
    });
  });

  it('a delete for a message never seen leaves a tombstone without text', () => {
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEDELETE', [del(8, 'e-8')]), meta(T0));
    expect(state.message(M, { externalId: 'e-8' })).toMatchObject({ text: null, deleted: true, deletedAt: T0, history: [] });
  });

  it('applies every item of a multi-item event, under MESSAGES or DATA', () => {
    const items = [upd(86501, ['ext-msg-005'], 'First'), upd(86502, ['ext-msg-006'], 'Second'), upd(86503, ['ext-msg-007'], 'Third', 'channel-9')];
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', items, 'MESSAGES'), meta(T0));
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', items, 'DATA', 108), meta(T0));
    expect(state.messages(M, { line: 107 }).map((m) => m.text)).toEqual(['First', 'Second', 'Third']);
    expect(state.messages(M, { line: 108 }).map((m) => m.text)).toEqual(['First', 'Second', 'Third']);
    expect(state.messages(M, { line: 107, externalChatId: 'channel-123' })).toHaveLength(2);
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEDELETE', [del(86501, 'ext-msg-005'), del(86502, 'ext-msg-006')], 'DATA'), meta(T0 + 5));
    expect(state.messages(M, { line: 107 }).map((m) => m.deleted)).toEqual([true, true, false]);
  });

  it('refuses invalid data as a whole: no item and no applied mark is kept', () => {
    const bad = connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(1, ['a'], 'ok'), { ...upd(2, ['b'], 'x'), im: { chat_id: 1807, message_id: 'two' } }]);
    expect(() => state.apply(bad, meta(T0, 50))).toThrow(/data\[MESSAGES\]\[1\]\[im\]\[message_id\]/);
    expect(state.applied(50)).toBe(false);
    expect(state.messages(M)).toEqual([]);
  });
});

describe('dialogs', () => {
  it('keeps the parent chain, computes closesAt from close_term, and a finish closes the session', () => {
    const start = (id: number, parent: number, at: number) =>
      state.apply(connectorEvent('ONIMCONNECTORDIALOGSTART', [dialog({ id, closed: 'N', parent_id: parent, close_term: 10 })], 'DATA'), meta(at));
    const finish = (id: number, parent: number, at: number) =>
      state.apply(connectorEvent('ONIMCONNECTORDIALOGFINISH', [dialog({ id, closed: 'Y', parent_id: parent, close_term: 10 })], 'DATA'), meta(at));
    start(3280, 0, T0);
    finish(3280, 0, T0 + MIN);
    start(3281, 3280, T0 + 2 * MIN);
    finish(3281, 3280, T0 + 2 * MIN);
    start(3282, 3281, T0 + 3 * MIN);

    const [d] = state.dialogs(M, { open: true });
    expect(d).toMatchObject({
      sessionId: 3282,
      line: 107,
      externalChatId: 'channel-123',
      externalUserId: 'u-1',
      parentId: 3281,
      parents: [3281, 3280],
      open: true,
      closeTerm: 10,
      startedAt: T0 + 3 * MIN,
      closedAt: null,
      closesAt: T0 + 13 * MIN,
    });
    expect(state.dialogs(M, { open: false }).map((x) => x.sessionId)).toEqual([3280, 3281]);
    expect(state.dialogs(M).find((x) => x.sessionId === 3280)).toMatchObject({ parents: [], parentId: null, closedAt: T0 + MIN, closesAt: null });

    // An operator message is activity: the close moves to that message + close_term.
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'hi')]), meta(T0 + 5 * MIN));
    expect(state.dialogs(M, { open: true })[0]).toMatchObject({ lastActivityAt: T0 + 5 * MIN, closesAt: T0 + 15 * MIN });

    finish(3282, 3281, T0 + 20 * MIN);
    expect(state.dialogs(M, { open: true })).toEqual([]);
    expect(state.dialogs(M, { line: 107 }).find((x) => x.sessionId === 3282)).toMatchObject({ open: false, closedAt: T0 + 20 * MIN, closesAt: null, parents: [3281, 3280] });
  });

  it('a start with closed Y is closed; a late start does not reopen a finished session', () => {
    state.apply(connectorEvent('ONIMCONNECTORDIALOGSTART', [dialog({ id: 1, closed: 'Y' })], 'DATA'), meta(T0));
    state.apply(connectorEvent('ONIMCONNECTORDIALOGFINISH', [dialog({ id: 2, closed: 'Y' })], 'DATA'), meta(T0));
    state.apply(connectorEvent('ONIMCONNECTORDIALOGSTART', [dialog({ id: 2, closed: 'N', close_term: 5 })], 'DATA'), meta(T0 + 1));
    expect(state.dialogs(M).map((d) => [d.sessionId, d.open, d.startedAt, d.closedAt])).toEqual([
      [1, false, T0, T0],
      [2, false, T0 + 1, T0],
    ]);
  });

  it('accepts several dialogs in one event under MESSAGES or DATA, and the documented string LINE', () => {
    const ev = connectorEvent('ONIMCONNECTORDIALOGSTART', [dialog({ id: 10, close_term: 1 }, 'a'), dialog({ id: 11, close_term: 1 }, 'b')], 'MESSAGES');
    state.apply({ ...ev, data: { ...ev.data, LINE: '107' } }, meta(T0));
    expect(state.dialogs(M, { open: true }).map((d) => [d.sessionId, d.externalChatId, d.closesAt])).toEqual([
      [10, 'a', T0 + MIN],
      [11, 'b', T0 + MIN],
    ]);
    expect(state.chat(M, 107, 'b')).toMatchObject({ imChatId: null });
  });
});

describe('lines', () => {
  it('marks a deleted line and a deleted connector status, and lists every line seen', () => {
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'hi')]), meta(T0));
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(2, 'hi')], 'MESSAGES', 108), meta(T0));
    state.apply({ event: 'ONIMCONNECTORSTATUSDELETE', data: { connector: 'myconnector', line: 107 } }, meta(T0 + 1));
    state.apply({ event: 'ONIMCONNECTORLINEDELETE', data: 107 }, meta(T0 + 2));
    expect(state.lines(M)).toEqual([
      {
        line: 107,
        deleted: true,
        deletedAt: T0 + 2,
        connectors: [{ connector: 'myconnector', statusDeleted: true, statusDeletedAt: T0 + 1 }],
        firstSeenAt: T0,
        lastSeenAt: T0 + 2,
      },
      {
        line: 108,
        deleted: false,
        deletedAt: null,
        connectors: [{ connector: 'myconnector', statusDeleted: false, statusDeletedAt: null }],
        firstSeenAt: T0,
        lastSeenAt: T0,
      },
    ]);
    // Messages on a deleted line stay readable.
    expect(state.message(M, { line: 107, imMessageId: 1 })?.text).toBe('hi');
  });
});

describe('apply', () => {
  it('ignores codes that do not concern the connector state, without marking them applied', () => {
    const ol = { event: 'ONOPENLINEMESSAGEUPDATE', data: { CONNECTOR: 'livechat', LINE: 128, DATA: [{ im: im(2056, 1024), message: { id: ['2056'] }, chat: { id: '1024' } }] } };
    expect(state.apply(ol, meta(T0, 1))).toBe(false);
    expect(state.apply({ event: 'ONIMBOTMESSAGEADD', data: {} }, meta(T0, 2))).toBe(false);
    expect(state.apply({ event: 'ONCRMDEALUPDATE' }, meta(T0, 3))).toBe(false);
    expect(state.applied(1)).toBe(false);
    expect(state.messages(M)).toEqual([]);
    // Codes are compared as Bitrix24 sends them: upper case.
    expect(state.apply({ event: 'OnImConnectorLineDelete', data: 5 }, meta(T0, 4))).toBe(true);
  });

  it('applies every connector fixture as the intake parses it (JSON and form bodies)', () => {
    const names = readdirSync(new URL('../../fixtures/events/', import.meta.url))
      .filter((f) => f.startsWith('imconnector-') && f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      for (const [body, format] of [[jsonFixture(name), 'json'], [formFixture(name), 'form']] as const) {
        const parsed = parseEvent(decodeBody(body, format));
        expect(state.apply(parsed.event, meta(T0)), name).toBe(true);
      }
    }
    expect(state.message(M, { externalId: 'ext-msg-007' })?.text).toContain('Third edit');
    expect(state.message(M, { imMessageId: 86497 })?.originalText).toBe('[b]Klaus Weber:[/b] [br]Guten Tag!');
    expect(state.chat(M, 107, '00123')?.imChatId).toBe(1807);
  });

  it('keeps the state across reopening, and migrates once', () => {
    state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'kept')]), meta(T0, 1));
    db.close();
    db = new Database(join(dir, 'gateway.db'));
    state = new ConnectorState(db);
    expect(state.message(M, { imMessageId: 1 })?.text).toBe('kept');
    expect(state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'again')]), meta(T0, 1))).toBe(false);
    expect(db.prepare('SELECT version FROM state_migrations').pluck().all()).toEqual([1]);
  });

  it('joins a transaction the caller has open, and rolls back with it', () => {
    const run = db.transaction((fail: boolean) => {
      state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'inside')]), meta(T0, 7));
      if (fail) throw new Error('worker failed');
    });
    expect(() => run(true)).toThrow('worker failed');
    expect(state.applied(7)).toBe(false);
    run(false);
    expect(state.message(M, { imMessageId: 1 })?.text).toBe('inside');
  });
});
