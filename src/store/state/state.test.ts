import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDirEach } from '../../../test/helpers.js';
import { GatewayError } from '../../errors.js';
import type { Query, Runner, Work } from '../sql/work.js';
import { SqliteRunner } from '../sqlite/run.js';
import { SqliteStore } from '../sqlite/store.js';
import { ConnectorState } from './state.js';

const M = 'member-1';
const T0 = 1_773_760_030_000;
const messageAdd = (imMessageId: number) => ({
  event: 'ONIMCONNECTORMESSAGEADD',
  data: {
    CONNECTOR: 'myconnector',
    LINE: 107,
    MESSAGES: [{ im: { chat_id: 1807, message_id: imMessageId }, message: { text: 'hi' }, chat: { id: 'c-1' } }],
  },
  auth: { member_id: M },
});

describe('ConnectorState: the lines seen lately', () => {
  const tmp = tempDirEach();
  let store: SqliteStore;
  let runner: SqliteRunner;
  /** The statements each write sent, and whether the next write fails after running them (rolled back). */
  let sent: string[];
  let failNext: boolean;
  let state: ConnectorState;

  beforeEach(() => {
    store = new SqliteStore(join(tmp.dir, 'g.db'));
    runner = new SqliteRunner(store.db);
    sent = [];
    failNext = false;
    const db: Runner = {
      read: (work) => runner.read(work),
      once: (work) => runner.once(work),
      write: <T>(work: Work<T>) => {
        const failing = failNext;
        failNext = false;
        return runner.write(
          (function* (): Work<T> {
            let step = work.next();
            while (!step.done) {
              sent.push(step.value.sql);
              step = work.next(yield step.value as Query);
            }
            if (failing) throw new GatewayError('B24GW_STORE_FAILED', 'the commit failed');
            return step.value;
          })(),
        );
      },
    };
    state = new ConnectorState(db);
  });
  afterEach(async () => {
    await runner.close();
    await store.close();
  });

  const touches = () => sent.filter((s) => /state_line/.test(s)).length;

  it("touches a line's rows once a minute, not on every event", async () => {
    await state.apply(messageAdd(1), { eventId: 1, memberId: M, receivedAt: T0 });
    expect(touches()).toBe(2);
    await state.apply(messageAdd(2), { eventId: 2, memberId: M, receivedAt: T0 + 59_000 });
    expect(touches()).toBe(2);
    await state.apply(messageAdd(3), { eventId: 3, memberId: M, receivedAt: T0 + 60_001 });
    expect(touches()).toBe(4);
    expect((await state.lines(M))[0]).toMatchObject({ line: 107, firstSeenAt: T0, lastSeenAt: T0 + 60_001 });
  });

  it('touches a line again after an apply that failed: a line is never taken as seen that was not stored', async () => {
    failNext = true;
    await expect(state.apply(messageAdd(1), { eventId: 1, memberId: M, receivedAt: T0 })).rejects.toThrow(
      /commit failed/,
    );
    expect(await state.lines(M)).toEqual([]);
    await state.apply(messageAdd(2), { eventId: 2, memberId: M, receivedAt: T0 + 1 });
    expect(await state.lines(M)).toMatchObject([
      { line: 107, firstSeenAt: T0 + 1, connectors: [{ connector: 'myconnector' }] },
    ]);
  });
});
