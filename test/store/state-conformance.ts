import { readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEvent } from '../../src/events/registry.js';
import { migrations } from '../../src/store/sqlite/migrations.js';
import type { ConnectorStateStore, EventMeta, StateEvent } from '../../src/store/state/types.js';
import { decodeBody } from '../../src/wire/decode.js';
import { formFixture, jsonFixture } from '../fixtures.js';
import type { StoreFactory } from './conformance.js';

interface StateHandle {
  state: ConnectorStateStore;
  /** Another instance on the same database, as a second gateway (or a restart) opens it. */
  another(): Promise<ConnectorStateStore>;
  /** A number a query returns (its first column of its first row), read on the database directly. */
  scalar(sql: string): Promise<number>;
  /** The values of a query's first column, in order. */
  column(sql: string): Promise<unknown[]>;
  cleanup(): Promise<void>;
}

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
const add = (imId: number, text: string, chat = 'channel-123') => ({
  im: im(imId),
  message: { user_id: 27, text },
  chat: { id: chat },
});
const upd = (imId: number, ids: string[], text?: string, chat = 'channel-123') => ({
  im: im(imId),
  message: { id: ids, text },
  chat: { id: chat },
});
const del = (imId: number, id: string, chat = 'channel-123') => ({ im: im(imId), message: { id }, chat: { id: chat } });
const dialog = (
  session: { id: number; closed?: string; parent_id?: number; close_term?: number },
  chat = 'channel-123',
  line = 107,
) => ({
  connector: { connector_id: 'myconnector', line_id: line, chat_id: chat, user_id: 'u-1' },
  session,
  chat: { id: chat },
  user: { id: 'u-1' },
});

type Applied = [StateEvent, Omit<EventMeta, 'memberId'>];

/** A chat's life in events: messages added, edited, deleted, in several chats and lines, and dialogs that follow each other. */
const story = (): Applied[] => {
  const list: Applied[] = [];
  const at = (n: number) => ({ eventId: n + 1, receivedAt: T0 + n * 1000 });
  const push = (e: StateEvent) => list.push([e, at(list.length)]);
  push(connectorEvent('ONIMCONNECTORDIALOGSTART', [dialog({ id: 3280, closed: 'N', close_term: 10 })], 'DATA'));
  for (let n = 1; n <= 6; n++) {
    push(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(n, `text ${n}`), add(100 + n, `other ${n}`, 'channel-9')]));
    push(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(n, [`e-${n}`], `edit ${n}`)]));
    push(
      connectorEvent(
        'ONIMCONNECTORMESSAGEUPDATE',
        [upd(n, [`e-${n}`, `e-${n}b`], `edit ${n} again`), upd(100 + n, [`o-${n}`], `other edit ${n}`, 'channel-9')],
        'DATA',
        108,
      ),
    );
    if (n % 2 === 0) push(connectorEvent('ONIMCONNECTORMESSAGEDELETE', [del(n, `e-${n}`)]));
  }
  push(connectorEvent('ONIMCONNECTORDIALOGFINISH', [dialog({ id: 3280, closed: 'Y', close_term: 10 })], 'DATA'));
  push(
    connectorEvent(
      'ONIMCONNECTORDIALOGSTART',
      [dialog({ id: 3281, closed: 'N', parent_id: 3280, close_term: 10 })],
      'DATA',
    ),
  );
  push({ event: 'ONIMCONNECTORSTATUSDELETE', data: { connector: 'myconnector', line: 108 } });
  push({ event: 'ONIMCONNECTORLINEDELETE', data: 108 });
  return list;
};

/** The state of a new store, another instance's on the same database, and queries on it. */
async function openState(factory: StoreFactory): Promise<StateHandle> {
  const { store, other, sql, cleanup } = await factory.open();
  const column = async (text: string) => (await sql(text)).map((r) => Object.values(r)[0]);
  return {
    state: store.state,
    another: async () => other().state,
    scalar: async (text) => Number((await column(text))[0]),
    column,
    cleanup,
  };
}

/** The connector state's part of the store's contract (run by storeConformance): the same behaviour on SQLite and PostgreSQL. */
export function stateConformance(factory: StoreFactory): void {
  describe('connector state', () => {
    let h: StateHandle;
    let state: ConnectorStateStore;
    let nextId = 1;
    const meta = (at: number, eventId = nextId++): EventMeta => ({ eventId, memberId: M, receivedAt: at });

    beforeEach(async () => {
      h = await openState(factory);
      state = h.state;
      nextId = 1;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    /** Everything the state says about a portal; event ids in the history less `offset`. */
    const everything = async (s: ConnectorStateStore, member: string, offset = 0) => ({
      messages: (await s.messages(member)).map((m) => ({
        ...m,
        history: m.history.map((e) => ({ ...e, eventId: e.eventId - offset })),
      })),
      dialogs: await s.dialogs(member),
      lines: await s.lines(member),
      chats: await Promise.all(
        (
          [
            [107, 'channel-123'],
            [107, 'channel-9'],
            [108, 'channel-123'],
            [108, 'channel-9'],
          ] as const
        ).map(([line, chat]) => s.chat(member, line, chat)),
      ),
    });

    describe('messages', () => {
      const seed = async () => {
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(86501, 'Hello')]), meta(T0));
        await state.apply(
          connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['ext-msg-005'], 'Hello!')]),
          meta(T0 + 1000),
        );
        await state.apply(
          connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['ext-msg-005'], 'What questions do you have?')]),
          meta(T0 + 2000),
        );
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEDELETE', [del(86501, 'ext-msg-005')]), meta(T0 + 3000));
      };

      it('add, update, update, delete: current text, two edits, a readable tombstone', async () => {
        await seed();
        expect(await state.message(M, { imMessageId: 86501 })).toEqual({
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
          readAt: null,
          createdAt: T0,
          updatedAt: T0 + 3000,
        });
      });

      it('is idempotent: re-applying the same event ids changes nothing', async () => {
        await seed();
        const before = await state.messages(M);
        const again = connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['ext-msg-005'], 'Hello!')]);
        expect(await state.apply(again, meta(T0 + 9000, 2))).toBe(false);
        // Same id, other content: still the retry of event 3, so ignored.
        expect(
          await state.apply(
            connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(86501, ['x'], 'other')]),
            meta(T0 + 9000, 3),
          ),
        ).toBe(false);
        expect(await state.applied(3)).toBe(true);
        expect(await state.messages(M)).toEqual(before);
        expect(await h.scalar('SELECT COUNT(*) FROM state_applied')).toBe(4);
      });

      it('finds a message by Bitrix24 id or external id, within the portal and line', async () => {
        await seed();
        expect((await state.message(M, { externalId: 'ext-msg-005' }))?.imMessageId).toBe(86501);
        expect((await state.message(M, { line: 107, imMessageId: 86501, externalId: 'ext-msg-005' }))?.text).toBe(
          'What questions do you have?',
        );
        expect(await state.message(M, { line: 108, imMessageId: 86501 })).toBeUndefined();
        expect(await state.message(M, { imMessageId: 1 })).toBeUndefined();
        expect(await state.message(M, { externalId: 'nope' })).toBeUndefined();
        expect(await state.message('other-portal', { imMessageId: 86501 })).toBeUndefined();
        await expect(state.message(M, { line: 107 })).rejects.toThrow(/imMessageId or externalId/);
      });

      it('maps the Bitrix24 chat to the external chat both ways', async () => {
        await seed();
        expect(await state.chat(M, 107, 'channel-123')).toMatchObject({
          imChatId: 1807,
          connector: 'myconnector',
          firstSeenAt: T0,
          lastSeenAt: T0 + 3000,
        });
        expect((await state.chatByImId(M, 1807))?.externalChatId).toBe('channel-123');
        expect(await state.chat(M, 107, 'channel-999')).toBeUndefined();
      });

      it('an update for a message never seen creates it; an update without text only maps ids', async () => {
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(7, ['e-7'], 'late')]), meta(T0));
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(7, ['e-7b'])]), meta(T0 + 1));
        expect(await state.message(M, { externalId: 'e-7b' })).toMatchObject({
          text: 'late',
          originalText: null,
          externalIds: ['e-7', 'e-7b'],
          history: [{ text: 'late', at: T0, eventId: 1 }],
          deleted: false,
        });
      });

      it("an add that comes after its update keeps the update's text and fills in the author and original text", async () => {
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(9, ['e-9'], 'edited')]), meta(T0));
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(9, 'first')]), meta(T0 + 1));
        expect(await state.message(M, { externalId: 'e-9' })).toMatchObject({
          text: 'edited',
          originalText: 'first',
          userId: 27,
          history: [{ text: 'edited', at: T0 }],
        });
      });

      it('a delete for a message never seen leaves a tombstone without text', async () => {
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEDELETE', [del(8, 'e-8')]), meta(T0));
        expect(await state.message(M, { externalId: 'e-8' })).toMatchObject({
          text: null,
          deleted: true,
          deletedAt: T0,
          history: [],
        });
      });

      it('applies every item of a multi-item event, under MESSAGES or DATA', async () => {
        const items = [
          upd(86501, ['ext-msg-005'], 'First'),
          upd(86502, ['ext-msg-006'], 'Second'),
          upd(86503, ['ext-msg-007'], 'Third', 'channel-9'),
        ];
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', items, 'MESSAGES'), meta(T0));
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEUPDATE', items, 'DATA', 108), meta(T0));
        expect((await state.messages(M, { line: 107 })).map((m) => m.text)).toEqual(['First', 'Second', 'Third']);
        expect((await state.messages(M, { line: 108 })).map((m) => m.text)).toEqual(['First', 'Second', 'Third']);
        expect(await state.messages(M, { line: 107, externalChatId: 'channel-123' })).toHaveLength(2);
        await state.apply(
          connectorEvent('ONIMCONNECTORMESSAGEDELETE', [del(86501, 'ext-msg-005'), del(86502, 'ext-msg-006')], 'DATA'),
          meta(T0 + 5),
        );
        expect((await state.messages(M, { line: 107 })).map((m) => m.deleted)).toEqual([true, true, false]);
        // Each message keeps its own ids and edits, read together for the list.
        expect(
          (await state.messages(M, { line: 108 })).map((m) => [m.externalIds, m.history.map((e) => e.text)]),
        ).toEqual([
          [['ext-msg-005'], ['First']],
          [['ext-msg-006'], ['Second']],
          [['ext-msg-007'], ['Third']],
        ]);
      });

      it('refuses invalid data as a whole: no item and no applied mark is kept', async () => {
        const bad = connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [
          upd(1, ['a'], 'ok'),
          { ...upd(2, ['b'], 'x'), im: { chat_id: 1807, message_id: 'two' } },
        ]);
        await expect(state.apply(bad, meta(T0, 50))).rejects.toThrow(/data\[MESSAGES\]\[1\]\[im\]\[message_id\]/);
        expect(await state.applied(50)).toBe(false);
        expect(await state.messages(M)).toEqual([]);
        expect(await state.lines(M)).toEqual([]);
      });
    });

    describe('dialogs', () => {
      it('keeps the parent chain, computes closesAt from close_term, and a finish closes the session', async () => {
        const start = (id: number, parent: number, at: number) =>
          state.apply(
            connectorEvent(
              'ONIMCONNECTORDIALOGSTART',
              [dialog({ id, closed: 'N', parent_id: parent, close_term: 10 })],
              'DATA',
            ),
            meta(at),
          );
        const finish = (id: number, parent: number, at: number) =>
          state.apply(
            connectorEvent(
              'ONIMCONNECTORDIALOGFINISH',
              [dialog({ id, closed: 'Y', parent_id: parent, close_term: 10 })],
              'DATA',
            ),
            meta(at),
          );
        await start(3280, 0, T0);
        await finish(3280, 0, T0 + MIN);
        await start(3281, 3280, T0 + 2 * MIN);
        await finish(3281, 3280, T0 + 2 * MIN);
        await start(3282, 3281, T0 + 3 * MIN);

        const [d] = await state.dialogs(M, { open: true });
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
        expect((await state.dialogs(M, { open: false })).map((x) => x.sessionId)).toEqual([3280, 3281]);
        expect((await state.dialogs(M)).find((x) => x.sessionId === 3280)).toMatchObject({
          parents: [],
          parentId: null,
          closedAt: T0 + MIN,
          closesAt: null,
        });

        // An operator message is activity: the close moves to that message + close_term.
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'hi')]), meta(T0 + 5 * MIN));
        expect((await state.dialogs(M, { open: true }))[0]).toMatchObject({
          lastActivityAt: T0 + 5 * MIN,
          closesAt: T0 + 15 * MIN,
        });
        // An older message applied late does not move it back.
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(2, 'earlier')]), meta(T0 + 4 * MIN));
        expect((await state.dialogs(M, { open: true }))[0]).toMatchObject({ lastActivityAt: T0 + 5 * MIN });

        await finish(3282, 3281, T0 + 20 * MIN);
        expect(await state.dialogs(M, { open: true })).toEqual([]);
        expect((await state.dialogs(M, { line: 107 })).find((x) => x.sessionId === 3282)).toMatchObject({
          open: false,
          closedAt: T0 + 20 * MIN,
          closesAt: null,
          parents: [3281, 3280],
        });
      });

      it('a start with closed Y is closed; a late start does not reopen a finished session', async () => {
        await state.apply(
          connectorEvent('ONIMCONNECTORDIALOGSTART', [dialog({ id: 1, closed: 'Y' })], 'DATA'),
          meta(T0),
        );
        await state.apply(
          connectorEvent('ONIMCONNECTORDIALOGFINISH', [dialog({ id: 2, closed: 'Y' })], 'DATA'),
          meta(T0),
        );
        await state.apply(
          connectorEvent('ONIMCONNECTORDIALOGSTART', [dialog({ id: 2, closed: 'N', close_term: 5 })], 'DATA'),
          meta(T0 + 1),
        );
        expect((await state.dialogs(M)).map((d) => [d.sessionId, d.open, d.startedAt, d.closedAt])).toEqual([
          [1, false, T0, T0],
          [2, false, T0 + 1, T0],
        ]);
      });

      it('accepts several dialogs in one event under MESSAGES or DATA, and the documented string LINE', async () => {
        const ev = connectorEvent(
          'ONIMCONNECTORDIALOGSTART',
          [dialog({ id: 10, close_term: 1 }, 'a'), dialog({ id: 11, close_term: 1 }, 'b')],
          'MESSAGES',
        );
        await state.apply({ ...ev, data: { ...ev.data, LINE: '107' } }, meta(T0));
        expect(
          (await state.dialogs(M, { open: true })).map((d) => [d.sessionId, d.externalChatId, d.closesAt]),
        ).toEqual([
          [10, 'a', T0 + MIN],
          [11, 'b', T0 + MIN],
        ]);
        expect(await state.chat(M, 107, 'b')).toMatchObject({ imChatId: null });
      });
    });

    describe('lines', () => {
      it('marks a deleted line and a deleted connector status, and lists every line seen', async () => {
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'hi')]), meta(T0));
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(2, 'hi')], 'MESSAGES', 108), meta(T0));
        await state.apply(
          { event: 'ONIMCONNECTORSTATUSDELETE', data: { connector: 'myconnector', line: 107 } },
          meta(T0 + 1),
        );
        await state.apply({ event: 'ONIMCONNECTORLINEDELETE', data: 107 }, meta(T0 + 2));
        expect(await state.lines(M)).toEqual([
          {
            line: 107,
            deleted: true,
            deletedAt: T0 + 2,
            connectors: [{ connector: 'myconnector', statusDeleted: true, statusDeletedAt: T0 + 1 }],
            firstSeenAt: T0,
            // Exact to the minute: T0 + 2 is within a minute of T0.
            lastSeenAt: T0,
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
        expect((await state.message(M, { line: 107, imMessageId: 1 }))?.text).toBe('hi');
        await state.apply(
          connectorEvent('ONIMCONNECTORMESSAGEADD', [add(3, 'later')], 'MESSAGES', 108),
          meta(T0 + 60_001),
        );
        expect((await state.lines(M)).find((l) => l.line === 108)?.lastSeenAt).toBe(T0 + 60_001);
      });

      it("lists a line's connectors in code point order, whatever the database's collation", async () => {
        for (const [i, connector] of ['b', 'a', 'B', 'A_1', 'a_1'].entries()) {
          await state.apply({ event: 'ONIMCONNECTORSTATUSDELETE', data: { connector, line: 5 } }, meta(T0 + i));
        }
        expect((await state.lines(M))[0]?.connectors.map((c) => c.connector)).toEqual(['A_1', 'B', 'a', 'a_1', 'b']);
      });
    });

    describe('apply', () => {
      it('ignores codes that do not concern the connector state, without marking them applied', async () => {
        const ol = {
          event: 'ONOPENLINEMESSAGEUPDATE',
          data: {
            CONNECTOR: 'livechat',
            LINE: 128,
            DATA: [{ im: im(2056, 1024), message: { id: ['2056'] }, chat: { id: '1024' } }],
          },
        };
        expect(await state.apply(ol, meta(T0, 1))).toBe(false);
        expect(await state.apply({ event: 'ONIMBOTMESSAGEADD', data: {} }, meta(T0, 2))).toBe(false);
        expect(await state.apply({ event: 'ONCRMDEALUPDATE' }, meta(T0, 3))).toBe(false);
        expect(await state.applied(1)).toBe(false);
        expect(await state.messages(M)).toEqual([]);
        // Codes are compared as Bitrix24 sends them: upper case.
        expect(await state.apply({ event: 'OnImConnectorLineDelete', data: 5 }, meta(T0, 4))).toBe(true);
      });

      it('applies every connector fixture as the intake parses it (JSON and form bodies)', async () => {
        const names = readdirSync(new URL('../../fixtures/events/', import.meta.url))
          .filter((f) => f.startsWith('imconnector-') && f.endsWith('.json'))
          .map((f) => f.slice(0, -'.json'.length));
        expect(names.length).toBeGreaterThan(10);
        for (const name of names) {
          for (const [body, format] of [
            [jsonFixture(name), 'json'],
            [formFixture(name), 'form'],
          ] as const) {
            const parsed = parseEvent(decodeBody(body, format));
            expect(await state.apply(parsed.event, meta(T0)), name).toBe(true);
          }
        }
        expect((await state.message(M, { externalId: 'ext-msg-007' }))?.text).toContain('Third edit');
        expect((await state.message(M, { imMessageId: 86497 }))?.originalText).toBe(
          '[b]Klaus Weber:[/b] [br]Guten Tag!',
        );
        expect((await state.chat(M, 107, '00123'))?.imChatId).toBe(1807);
      });

      it('keeps the state across reopening, and migrates once', async () => {
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'kept')]), meta(T0, 1));
        const reopened = await h.another();
        expect((await reopened.message(M, { imMessageId: 1 }))?.text).toBe('kept');
        expect(await reopened.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(1, 'again')]), meta(T0, 1))).toBe(
          false,
        );
        // Its tables are one step of the store's migrations (8 on both databases), applied once.
        expect(migrations.find((m) => m.version === 8)?.sql).toMatch(/CREATE TABLE IF NOT EXISTS state_applied/);
        expect(await h.column('SELECT version FROM schema_migrations WHERE version = 8')).toEqual([8]);
      });

      it('two instances applying the same events at once apply each once, and end as one instance would', async () => {
        const events = story();
        const other = await h.another();
        // Each instance goes through the whole list, as two workers given the same events would.
        const through = async (s: ConnectorStateStore) => {
          const results: boolean[] = [];
          for (const [event, m] of events) results.push(await s.apply(event, { ...m, memberId: M }));
          return results;
        };
        const [a, b] = await Promise.all([through(state), through(other)]);
        expect(a.map((x, i) => Number(x) + Number(b[i]))).toEqual(events.map(() => 1));

        // The same events for another portal (own event ids), applied by one instance alone.
        const ALONE = 'portal-applied-alone';
        for (const [event, m] of events)
          expect(await state.apply(event, { ...m, eventId: m.eventId + 1000, memberId: ALONE })).toBe(true);
        const together = await everything(state, M);
        expect(together.messages).toHaveLength(24);
        expect(together.dialogs.map((d) => [d.sessionId, d.open, d.parents])).toEqual([
          [3280, false, []],
          [3281, true, [3280]],
        ]);
        expect(await everything(other, M)).toEqual(together);
        expect(await everything(state, ALONE, 1000)).toEqual(together);

        // One event offered by both at the very same moment, many times over: applied once.
        const burst = connectorEvent('ONIMCONNECTORMESSAGEUPDATE', [upd(1, ['burst'], 'burst')]);
        const offers = await Promise.all(
          Array.from({ length: 16 }, (_, i) => (i % 2 ? other : state).apply(burst, meta(T0 + 99_000, 5000))),
        );
        expect(offers.filter(Boolean)).toHaveLength(1);
        expect(
          (await state.message(M, { externalId: 'burst' }))?.history.filter((e) => e.text === 'burst'),
        ).toHaveLength(1);
      });
    });

    describe("the customers' side", () => {
      const ref = {
        line: 107,
        connector: 'myconnector',
        externalChatId: 'channel-123',
        externalUserId: 'u-1',
        externalMessageId: 'c-1',
      };
      const created = {
        kind: 'created' as const,
        ...ref,
        text: 'Hi',
        files: [{ url: 'https://x.example/a.png', name: 'a.png' }],
        imChatId: 1807,
        sessionId: 3281,
        imUserId: 585,
      };

      it("keeps a customer's message with Bitrix24's chat, session and user; an edit and a delete; idempotent", async () => {
        await state.recordCustomer(M, [created], T0);
        await state.recordCustomer(M, [{ kind: 'updated', ...ref, text: 'Hi there' }], T0 + 1000);
        await state.recordCustomer(M, [{ kind: 'deleted', ...ref }], T0 + 2000);
        // Recorded again, as a round sent again after a crash would: nothing changes.
        await state.recordCustomer(M, [created, { kind: 'deleted', ...ref }], T0 + 3000);
        expect(await state.customerMessage(M, 107, 'channel-123', 'c-1')).toEqual({
          line: 107,
          connector: 'myconnector',
          externalChatId: 'channel-123',
          externalMessageId: 'c-1',
          externalUserId: 'u-1',
          imChatId: 1807,
          sessionId: 3281,
          imUserId: 585,
          text: 'Hi there',
          originalText: 'Hi',
          files: [{ url: 'https://x.example/a.png', name: 'a.png' }],
          deleted: true,
          deletedAt: T0 + 2000,
          createdAt: T0,
          updatedAt: T0 + 3000,
        });
        expect(await state.customerMessage(M, 108, 'channel-123', 'c-1')).toBeUndefined();
        expect(await state.chat(M, 107, 'channel-123')).toMatchObject({ imChatId: 1807, name: null });
      });

      it("learns the ids an operator's message was delivered under, marks it read, names the chat, and tells the whole conversation", async () => {
        await state.apply(connectorEvent('ONIMCONNECTORMESSAGEADD', [add(86501, 'Hello')]), meta(T0));
        await state.recordCustomer(M, [created], T0 + 1000);
        await state.recordDelivered(M, [{ line: 107, imMessageId: 86501, externalIds: ['ch-1'] }]);
        await state.recordDelivered(M, [
          { line: 107, imMessageId: 86501, externalIds: ['ch-1'] },
          { line: 107, imMessageId: 404, externalIds: ['none'] },
        ]);
        expect(await state.message(M, { line: 107, externalId: 'ch-1' })).toMatchObject({
          imMessageId: 86501,
          externalIds: ['ch-1'],
          readAt: null,
        });
        await state.recordCustomer(M, [{ kind: 'read', line: 107, imMessageIds: [86501] }], T0 + 2000);
        await state.recordCustomer(M, [{ kind: 'read', line: 107, imMessageIds: [86501] }], T0 + 5000);
        await state.recordCustomer(
          M,
          [{ kind: 'renamed', line: 107, connector: 'myconnector', externalChatId: 'channel-123', name: 'Order 1042' }],
          T0 + 3000,
        );
        expect((await state.message(M, { imMessageId: 86501 }))?.readAt).toBe(T0 + 2000);
        expect((await state.chat(M, 107, 'channel-123'))?.name).toBe('Order 1042');
        expect(await state.conversation(M, 107, 'channel-123')).toEqual([
          {
            from: 'operator',
            externalIds: ['ch-1'],
            imMessageId: 86501,
            text: 'Hello',
            deleted: false,
            readAt: T0 + 2000,
            createdAt: T0,
            updatedAt: T0,
          },
          {
            from: 'customer',
            externalIds: ['c-1'],
            imMessageId: null,
            text: 'Hi',
            deleted: false,
            readAt: null,
            createdAt: T0 + 1000,
            updatedAt: T0 + 1000,
          },
        ]);
        expect(await state.conversation(M, 107, 'elsewhere')).toEqual([]);
      });
    });
  });
}
