import { describe, expect, it } from 'vitest';
import { announceLocal, listenLocal, localHeld, withLocalLock } from './local.js';

describe("one process's locks and wake-ups on a SQLite file", () => {
  it('runs the holders of one key one at a time, in the order asked, and forgets the key once all are done', async () => {
    const order: string[] = [];
    const hold = (name: string, fail = false) =>
      withLocalLock('file\0m1', async () => {
        order.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 5));
        order.push(`${name} out`);
        if (fail) throw new Error(`${name} failed`);
        return name;
      });
    const results = await Promise.allSettled([hold('a'), hold('b', true), hold('c')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'a',
      'b failed',
      'c',
    ]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(localHeld().locks).toBe(0);
    // Released in the middle, a key held again is kept until its last holder is done.
    const first = withLocalLock('file\0m2', async () => 1);
    const second = withLocalLock('file\0m2', async () => 2);
    await first;
    expect(localHeld().locks).toBe(1);
    await second;
    expect(localHeld().locks).toBe(0);
  });

  it('wakes every listener of a file, none of another, and forgets a file once its last listener stops', () => {
    const woken: string[] = [];
    const offA = listenLocal('/f1', () => woken.push('a'));
    const offB = listenLocal('/f1', () => woken.push('b'));
    const offC = listenLocal('/f2', () => woken.push('c'));
    announceLocal('/f1');
    expect(woken).toEqual(['a', 'b']);
    expect(localHeld().listened).toBe(2);
    offA();
    announceLocal('/f1');
    expect(woken).toEqual(['a', 'b', 'b']);
    offB();
    offC();
    expect(localHeld().listened).toBe(0);
    // A listener that stops twice, after the file has new listeners, leaves them alone.
    const offD = listenLocal('/f1', () => woken.push('d'));
    offA();
    announceLocal('/f1');
    expect(woken.at(-1)).toBe('d');
    offD();
    expect(localHeld().listened).toBe(0);
  });
});
