import { describe, expect, it } from 'vitest';
import { MAX_NAMED, named, readyWithin, retrying } from './run.js';
import { isStalePlan, isTransient } from './transient.js';

const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

describe('work while the database is away', () => {
  it('knows a restart, a failover and a cut connection from a wrong query', () => {
    for (const e of [
      terminated,
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      Object.assign(new Error('x'), { code: '08006' }),
      new Error('outer', { cause: terminated }),
      Object.assign(new Error('cached plan must not change result type'), { code: '0A000' }),
    ])
      expect([e.message, isTransient(e)]).toEqual([e.message, true]);
    for (const e of [
      Object.assign(new Error('duplicate key value'), { code: '23505' }),
      Object.assign(new Error('syntax error'), { code: '42601' }),
      new Error('the batch is written again row by row'),
      'Connection terminated',
      null,
      Object.assign(new Error('unsupported Unicode escape sequence'), { code: '0A000' }),
    ])
      expect(isTransient(e)).toBe(false);
  });

  it('reads a socket error by its code, follows causes without looping, and knows a stale plan only by code and message together', () => {
    expect(isTransient(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('permission denied'), { code: 'EACCES' }))).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { code: 'XECONNRESET' }))).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESETX1' }))).toBe(false);
    expect(isTransient({ message: 42 })).toBe(false);
    const selfCaused = new Error('loop');
    Object.assign(selfCaused, { cause: selfCaused });
    expect(isTransient(selfCaused)).toBe(false);
    expect(isTransient(new Error('outer', { cause: new Error('syntax error') }))).toBe(false);
    expect(isTransient(new Error('outer', { cause: 'Connection terminated' }))).toBe(false);
    const stale = 'cached plan must not change result type';
    expect(isStalePlan(Object.assign(new Error(stale), { code: '0A000' }))).toBe(true);
    expect(isStalePlan(Object.assign(new Error(stale), { code: 'XX000' }))).toBe(false);
    expect(isStalePlan({ code: '0A000', message: stale })).toBe(false);
    expect(isTransient(Object.assign(new Error(stale), { code: 'XX000' }))).toBe(false);
  });

  it('tries again while the failure is transient, and fails at once when it is not', async () => {
    let calls = 0;
    expect(await retrying(5_000, async () => (++calls < 3 ? Promise.reject(terminated) : 'done'))).toBe('done');
    expect(calls).toBe(3);
    calls = 0;
    const wrong = Object.assign(new Error('syntax error'), { code: '42601' });
    await expect(retrying(5_000, async () => (calls++, Promise.reject(wrong)))).rejects.toBe(wrong);
    expect(calls).toBe(1);
  });

  it('past the bound fails with B24GW_STORE_UNAVAILABLE, a 503 with Retry-After in whole seconds, at least 1', async () => {
    await expect(retrying(200, () => Promise.reject(terminated))).rejects.toMatchObject({
      code: 'B24GW_STORE_UNAVAILABLE',
      status: 503,
      retryAfter: 1,
    });
    // The schema never ready within 1.5 s, and work failing as long: Retry-After 2, for both.
    const away = { code: 'B24GW_STORE_UNAVAILABLE', status: 503, retryAfter: 2 };
    await Promise.all([
      expect(readyWithin(new Promise(() => undefined), 1_500)).rejects.toMatchObject(away),
      expect(retrying(1_500, () => Promise.reject(terminated))).rejects.toMatchObject(away),
    ]);
  });

  it('does not try again once the work may have seen an answer', async () => {
    let calls = 0;
    await expect(
      retrying(
        5_000,
        () => (calls++, Promise.reject(terminated)),
        () => false,
      ),
    ).rejects.toBe(terminated);
    expect(calls).toBe(1);
  });
});

describe('named statements', () => {
  it('names each text once, and past the bound sends new texts unnamed', () => {
    expect(isStalePlan(Object.assign(new Error('cached plan must not change result type'), { code: '0A000' }))).toBe(
      true,
    );
    const first = named('SELECT $1', [1]);
    expect(first).toEqual({ name: expect.any(String), text: 'SELECT $1', values: [1] });
    expect(named('SELECT $1', [2]).name).toBe(first.name);
    // A text made for a list's length, as a multi-row VALUES is: one more text per length.
    const texts = Array.from(
      { length: MAX_NAMED + 50 },
      (_, n) =>
        `VALUES ${Array(n + 1)
          .fill('($1)')
          .join(', ')}`,
    );
    const names = new Set(texts.map((t) => named(t, []).name).filter((n) => n !== undefined));
    expect(names.size).toBe(MAX_NAMED - 1);
    expect(named(texts.at(-1)!, [])).toEqual({ text: texts.at(-1), values: [] });
    expect(named('SELECT $1', [3]).name).toBe(first.name);
  });
});
